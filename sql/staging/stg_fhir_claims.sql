-- stg_fhir_claims: the MedicationDispense and MedicationRequest resources of a --format fhir input as
-- canonical claims, one row per resource of the --claims files (the mapping and why:
-- transforms/adapters/fhir.py's docstring), with lineage (source_file; __row: the NDJSON line or Bundle
-- entry; raw: the resource as read, at most $raw_chars characters) and pre-rejects (reject_code,
-- reject_reason naming the FHIR field). Read per source file by stg_fhir_file_claims.sql.
-- In short: a dispense is a fill (fill date whenHandedOver, else whenPrepared); a request is an order
-- (fill date = its start) only for a patient with no MedicationDispense in the input; a request that
-- authorises a dispense in the input, or of a patient whose dispenses the input holds, is quarantined as
-- context; entered-in-error records are reversals of the record; statuses that mean nothing was handed
-- over (or prescribed) are quarantined with the status in the reason.
-- Parameter: $raw_chars. Input: stg_fhir_resources (stg_fhir_resources.sql).
-- Macros: fhir_reference, fhir_patient_id, fhir_date, fhir_days.
with resources as (
    select * from stg_fhir_resources
),

-- What a reference can name: each resource under its key ('Type/id', else its entry's fullUrl) and under
-- its Bundle entry's fullUrl; the first copy (by file and row) wins when several files hold one resource.
lookups as (
    select key as lookup, key, resource_type, source_file, source_row
    from resources
    where valid and key is not null
    union all
    select full_url as lookup, key, resource_type, source_file, source_row
    from resources
    where valid and full_url is not null and full_url is distinct from key
),

targets as (
    select lookup, key, resource_type, source_file, source_row
    from lookups
    qualify row_number() over (partition by lookup order by source_file, source_row) = 1
),

-- The fields read, parsed once (from_json: an absent or differently shaped field is NULL). STU3 and R4
-- differ only in names read side by side: requester.agent (STU3) / requester (R4), dosage doseQuantity
-- (STU3) / doseAndRate.doseQuantity (R4), MedicationDispense.notDone (STU3 only). Requests of any input
-- are parsed (a dispense reads its prescription's); the rows are those of the --claims files.
items as (
    select
        source_file,
        source_row as __row,
        role,
        valid,
        text,
        resource_type,
        key,
        resource_type = 'MedicationDispense' as is_dispense,
        case when valid then from_json(
            text,
            '{"status": "VARCHAR", "intent": "VARCHAR", "doNotPerform": "VARCHAR", "notDone": "VARCHAR",
              "subject": "JSON", "patient": "JSON", "medicationCodeableConcept": "JSON",
              "medicationReference": "JSON", "contained": "JSON[]", "authorizingPrescription": "JSON[]",
              "whenHandedOver": "VARCHAR", "whenPrepared": "VARCHAR", "daysSupply": "JSON", "quantity": "JSON",
              "dosageInstruction": "JSON[]", "dispenseRequest": "JSON", "authoredOn": "VARCHAR",
              "requester": "JSON", "performer": "JSON[]", "location": "JSON"}'
        ) end as r
    from resources
    where
        (role = 'claims' and not valid)
        or resource_type = 'MedicationRequest'
        or (role = 'claims' and resource_type = 'MedicationDispense')
),

fields as (
    select
        items.*,
        r.status as status,
        coalesce(r.notDone = 'true', false) as not_done,
        coalesce(r.doNotPerform = 'true', false) as do_not_perform,
        r.intent as intent,
        fhir_reference(
            coalesce(json_extract_string(r.subject, '$.reference'), json_extract_string(r.patient, '$.reference'))
        ) as subject_reference,
        json_extract_string(r.medicationReference, '$.reference') as medication_reference,
        json_extract_string(r.medicationReference, '$.display') as medication_display,
        fhir_reference(json_extract_string(r.authorizingPrescription[1], '$.reference')) as prescription_reference,
        fhir_date(r.whenHandedOver) as handed_over,
        fhir_date(coalesce(r.whenHandedOver, r.whenPrepared)) as dispensed_on,
        case when is_dispense then r.quantity else json_extract(r.dispenseRequest, '$.quantity') end as supplied,
        list_min(list_transform(
            coalesce(r.dosageInstruction, []),
            lambda d: fhir_date(json_extract_string(d, '$.timing.repeat.boundsPeriod.start'))
        )) as dosage_start,
        list_max(list_transform(
            coalesce(r.dosageInstruction, []),
            lambda d: fhir_date(json_extract_string(d, '$.timing.repeat.boundsPeriod.end'))
        )) as dosage_end,
        list_max(list_transform(
            coalesce(r.dosageInstruction, []),
            lambda d: fhir_days(
                json_extract_string(d, '$.timing.repeat.boundsDuration.value'),
                coalesce(
                    json_extract_string(d, '$.timing.repeat.boundsDuration.code'),
                    json_extract_string(d, '$.timing.repeat.boundsDuration.unit')
                )
            )
        )) as bounds_days,
        fhir_date(r.authoredOn) as authored_on,
        fhir_date(json_extract_string(r.dispenseRequest, '$.validityPeriod.start')) as valid_from
    from items
    where role = 'claims'
),

-- Each dispense's first performer that is an Organization (the pharmacy), by position.
performers as (
    select
        source_file,
        __row,
        fhir_reference(json_extract_string(unnest(r.performer), '$.actor.reference')) as actor,
        generate_subscripts(r.performer, 1) as position
    from items
    where role = 'claims' and is_dispense and r.performer is not null
),

pharmacies as (
    select
        performers.source_file,
        performers.__row,
        arg_min(coalesce(target.key, performers.actor), performers.position) as organization
    from performers
    left join targets as target on performers.actor = target.lookup
    where coalesce(target.resource_type, regexp_extract(performers.actor, '^([A-Z][A-Za-z]+)/', 1)) = 'Organization'
    group by all
),

-- The medication (medicationCodeableConcept, else the Medication named by medicationReference: contained
-- '#id', or in the input), the prescription (a dispense's first authorizingPrescription when that
-- MedicationRequest is in the input, a request itself) and the pharmacy (an Organization performer, else
-- STU3 performer.onBehalfOf, else R4 location).
resolved as (
    select
        f.*,
        coalesce(subject.key, f.subject_reference) as patient_key,
        coalesce(subject.resource_type, regexp_extract(coalesce(subject.key, f.subject_reference), '^([A-Z][A-Za-z]+)/', 1))
            as subject_type,
        coalesce(
            case
                when starts_with(f.medication_reference, '#')
                    then list_filter(
                        f.r.contained, lambda c: json_extract_string(c, '$.id') = substr(f.medication_reference, 2)
                    )[1]
            end,
            medication.text::json
        ) as medication,
        case when f.is_dispense then prescription.r else f.r end as rx,
        case when f.is_dispense then coalesce(prescribed.key, f.prescription_reference) else f.key end as rx_reference,
        coalesce(
            pharmacies.organization,
            fhir_reference(json_extract_string(f.r.performer[1], '$.onBehalfOf.reference')),
            fhir_reference(json_extract_string(f.r.location, '$.reference'))
        ) as pharmacy_id
    from fields as f
    left join targets as subject on f.subject_reference = subject.lookup
    left join targets as medicated
        on fhir_reference(f.medication_reference) = medicated.lookup and medicated.resource_type = 'Medication'
    left join resources as medication
        on medicated.source_file = medication.source_file and medicated.source_row = medication.source_row
    left join targets as prescribed
        on f.is_dispense and f.prescription_reference = prescribed.lookup
        and prescribed.resource_type = 'MedicationRequest'
    left join items as prescription
        on prescribed.source_file = prescription.source_file and prescribed.source_row = prescription.__row
    left join pharmacies on f.source_file = pharmacies.source_file and f.__row = pharmacies.__row
),

-- The drug: the concept's RxNorm and NDC codings, and a name (the concept's text, else a coding's display,
-- else the reference's display, else the Medication's ingredients). The prescriber: the prescription's
-- requester (R4) or requester.agent (STU3), the practitioner of a PractitionerRole in the input.
described as (
    select
        resolved.*,
        coalesce(resolved.r.medicationCodeableConcept, json_extract(resolved.medication, '$.code')) as concept,
        coalesce(
            json_extract_string(resolved.rx.requester, '$.reference'),
            json_extract_string(resolved.rx.requester, '$.agent.reference')
        ) as requester_reference,
        coalesce(
            json_extract_string(resolved.rx.requester, '$.identifier.value'),
            json_extract_string(resolved.rx.requester, '$.agent.identifier.value')
        ) as requester_identifier,
        array_to_string(
            list_filter(
                list_transform(
                    coalesce(json_extract(resolved.medication, '$.ingredient[*]'), []),
                    lambda i: coalesce(
                        json_extract_string(i, '$.itemCodeableConcept.text'),
                        json_extract_string(i, '$.itemCodeableConcept.coding[0].display'),
                        json_extract_string(i, '$.itemReference.display')
                    )
                ),
                lambda n: n is not null
            ),
            ' / '
        ) as ingredient_names
    from resolved
),

coded as (
    select
        d.*,
        list_filter(
            coalesce(json_extract(d.concept, '$.coding[*]'), []),
            lambda c: json_extract_string(c, '$.system') in (
                'http://www.nlm.nih.gov/research/umls/rxnorm', 'urn:oid:2.16.840.1.113883.6.88'
            )
        )[1] as rxnorm_coding,
        list_filter(
            coalesce(json_extract(d.concept, '$.coding[*]'), []),
            lambda c: json_extract_string(c, '$.system') in ('http://hl7.org/fhir/sid/ndc', 'urn:oid:2.16.840.1.113883.6.69')
        )[1] as ndc_coding,
        list_filter(
            coalesce(json_extract_string(d.concept, '$.coding[*].display'), []), lambda t: nullif(trim(t), '') is not null
        )[1] as any_display,
        coalesce(requester.key, fhir_reference(d.requester_reference)) as requester_key,
        coalesce(
            requester.resource_type,
            regexp_extract(coalesce(requester.key, fhir_reference(d.requester_reference)), '^([A-Z][A-Za-z]+)/', 1)
        ) as requester_type,
        fhir_reference(json_extract_string(role.text, '$.practitioner.reference')) as role_practitioner
    from described as d
    left join targets as requester on fhir_reference(d.requester_reference) = requester.lookup
    left join resources as role
        on
            requester.resource_type = 'PractitionerRole'
            and requester.source_file = role.source_file
            and requester.source_row = role.source_row
),

-- The supply. A dispense: daysSupply; else its quantity at the daily dose of its dosageInstruction (or
-- its prescription's); else its prescription's dispenseRequest.expectedSupplyDuration. A request: the
-- dosage's boundsPeriod end (an end date); else boundsDuration; else expectedSupplyDuration; else its
-- dispenseRequest quantity at the daily dose. The daily dose is the first dosageInstruction's dose
-- (STU3 doseQuantity, R4 doseAndRate[0].doseQuantity) x frequency / period, used only when the dose and
-- the quantity are in the same unit ('{tablet}' = 'tablets').
dosed as (
    select
        c.*,
        coalesce(c.r.dosageInstruction[1], c.rx.dosageInstruction[1]) as dosage
    from coded as c
),

supplied as (
    select
        d.*,
        json_extract_string(d.r.daysSupply, '$.value') as supply_value,
        coalesce(json_extract_string(d.r.daysSupply, '$.code'), json_extract_string(d.r.daysSupply, '$.unit'))
            as supply_unit,
        fhir_days(
            json_extract_string(d.rx.dispenseRequest, '$.expectedSupplyDuration.value'),
            coalesce(
                json_extract_string(d.rx.dispenseRequest, '$.expectedSupplyDuration.code'),
                json_extract_string(d.rx.dispenseRequest, '$.expectedSupplyDuration.unit')
            )
        ) as expected_days,
        try_cast(json_extract_string(d.supplied, '$.value') as double) as quantity_value,
        try_cast(
            coalesce(
                json_extract_string(d.dosage, '$.doseQuantity.value'),
                json_extract_string(d.dosage, '$.doseAndRate[0].doseQuantity.value')
            ) as double
        )
        * coalesce(try_cast(json_extract_string(d.dosage, '$.timing.repeat.frequency') as double), 1)
        / nullif(
            fhir_days(
                json_extract_string(d.dosage, '$.timing.repeat.period'),
                json_extract_string(d.dosage, '$.timing.repeat.periodUnit')
            ),
            0
        ) as daily_dose,
        regexp_replace(
            regexp_replace(
                lower(coalesce(json_extract_string(d.supplied, '$.code'), json_extract_string(d.supplied, '$.unit'))),
                '[{}]',
                '',
                'g'
            ),
            's$',
            ''
        ) as quantity_unit,
        regexp_replace(
            regexp_replace(
                lower(coalesce(
                    json_extract_string(d.dosage, '$.doseQuantity.code'),
                    json_extract_string(d.dosage, '$.doseQuantity.unit'),
                    json_extract_string(d.dosage, '$.doseAndRate[0].doseQuantity.code'),
                    json_extract_string(d.dosage, '$.doseAndRate[0].doseQuantity.unit')
                )),
                '[{}]',
                '',
                'g'
            ),
            's$',
            ''
        ) as dose_unit
    from dosed as d
),

measured as (
    select
        *,
        fhir_days(supply_value, supply_unit) as supply_days,
        case
            when quantity_unit is not distinct from dose_unit and daily_dose > 0
                then greatest(floor(quantity_value / daily_dose), 1)
        end as dose_days,
        case when subject_type in ('Patient', '') then fhir_patient_id(patient_key) end as patient_id
    from supplied
),

-- Requests that a dispense in the input authorises, and patients with any dispense in the input.
dispensed_requests as (
    select distinct coalesce(target.key, a.reference) as key
    from (
        select fhir_reference(json_extract_string(unnest(r.authorizingPrescription), '$.reference')) as reference
        from items
        where role = 'claims' and is_dispense
    ) as a
    left join targets as target on a.reference = target.lookup
),

dispensed_patients as (
    select distinct patient_id from measured where is_dispense and patient_id is not null
),

mapped as (
    select
        m.*,
        m.status = 'entered-in-error' as voided,
        case
            when m.is_dispense then m.dispensed_on
            else coalesce(m.dosage_start, m.authored_on, m.valid_from)
        end as fill_date,
        case when not m.is_dispense then m.dosage_end end as end_date,
        ceil(
            case
                when m.is_dispense then coalesce(m.supply_days, m.dose_days, m.expected_days)
                when m.dosage_end is null then coalesce(m.bounds_days, m.expected_days, m.dose_days)
            end
        )::bigint as days_supply,
        coalesce(
            nullif(trim(json_extract_string(m.concept, '$.text')), ''),
            json_extract_string(m.rxnorm_coding, '$.display'),
            json_extract_string(m.ndc_coding, '$.display'),
            m.any_display,
            nullif(trim(m.medication_display), ''),
            nullif(m.ingredient_names, '')
        ) as drug_name,
        json_extract_string(m.rxnorm_coding, '$.code') as rxcui,
        json_extract_string(m.ndc_coding, '$.code') as ndc,
        case
            when m.requester_reference is null then m.requester_identifier
            when m.requester_type = 'PractitionerRole' and m.role_practitioner is not null then m.role_practitioner
            when m.requester_type in ('Practitioner', 'PractitionerRole', '') then m.requester_key
        end as prescriber_id,
        coalesce(m.key in (select dispensed_requests.key from dispensed_requests), false) as dispensed_request,
        coalesce(m.patient_id in (select dispensed_patients.patient_id from dispensed_patients), false)
            as dispensed_patient
    from measured as m
),

judged as (
    select
        *,
        case
            when not valid then 'bad_json'
            when is_dispense and status is null then 'bad_claim_status'
            when
                is_dispense and status not in (
                    'preparation', 'in-progress', 'cancelled', 'on-hold', 'completed', 'entered-in-error', 'stopped',
                    'declined', 'unknown'
                )
                then 'bad_claim_status'
            when not is_dispense and dispensed_request then 'request_dispensed'
            when not is_dispense and dispensed_patient then 'request_not_dispensed'
            when
                not is_dispense and (
                    status is null
                    or status not in (
                        'active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown'
                    )
                )
                then 'bad_claim_status'
            when is_dispense and not_done then 'not_dispensed'
            when is_dispense and status in ('preparation', 'in-progress', 'on-hold', 'cancelled', 'declined')
                then 'not_dispensed'
            when is_dispense and status in ('stopped', 'unknown') and handed_over is null then 'not_dispensed'
            when not is_dispense and status in ('draft', 'cancelled') then 'not_an_order'
            when not is_dispense and intent in ('proposal', 'option') then 'not_an_order'
            when not is_dispense and do_not_perform then 'not_an_order'
            when voided and (fill_date is null or (days_supply is null and end_date is null)) then 'entered_in_error'
            when key is null then 'missing_claim_id'
            when patient_id is null then 'missing_patient_id'
            when fill_date is null then 'missing_fill_date'
            when is_dispense and supply_value is not null and supply_days is null then 'bad_days_supply'
            -- An active order without an end or a supply runs until stopped: an ongoing order (below).
            when days_supply is null and end_date is null and (is_dispense or status <> 'active') then 'missing_supply'
            when rxcui is null and ndc is null and drug_name is null then 'missing_drug'
        end as reject_code
    from mapped
),

outcomes as (
    select
        *,
        voided and reject_code is null as reversal
    from judged
)

select
    source_file,
    case when reversal then key || '#entered-in-error' else key end as claim_id,
    patient_id,
    fill_date,
    days_supply,
    end_date,
    ndc,
    rxcui,
    drug_name,
    json_extract_string(supplied, '$.value') as quantity,
    prescriber_id,
    pharmacy_id,
    case when reversal then 'reversed' else 'paid' end as claim_status,
    null as fill_number,
    rx_reference,
    case when reversal then key end as original_claim_id,
    case when not is_dispense and status = 'active' and days_supply is null and end_date is null then 'true' end
        as ongoing,
    __row,
    case
        when length(text) <= $raw_chars then text
        else to_json(struct_pack(truncated_to := $raw_chars, characters := length(text), resource := left(text, $raw_chars)))::varchar
    end as raw,
    reject_code,
    case reject_code
        when 'bad_json' then 'the line is not valid JSON'
        when 'bad_claim_status' then resource_type || '.status ' || coalesce('''' || status || '''', 'is missing; it')
            || ' is not a FHIR ' || resource_type || ' status'
        when 'request_dispensed'
            then 'MedicationRequest authorises MedicationDispense resources in the input: those dispenses are the fills'
        when 'request_not_dispensed'
            then 'MedicationRequest with no MedicationDispense in the input, for a patient whose dispenses the input '
            || 'holds: not counted as exposure (not filled, or filled where the source does not see)'
        when 'not_dispensed' then case
            when not_done then 'MedicationDispense.notDone is true: the dispense did not take place'
            when status in ('stopped', 'unknown')
                then 'MedicationDispense.status ''' || status || ''' without whenHandedOver: nothing was handed over'
            when status in ('cancelled', 'declined')
                then 'MedicationDispense.status ''' || status || ''': the dispense did not take place'
            else 'MedicationDispense.status ''' || status || ''': not handed over to the patient (yet)'
        end
        when 'not_an_order' then case
            when status in ('draft', 'cancelled')
                then 'MedicationRequest.status ''' || status || ''': the prescription was never in effect'
            when do_not_perform then 'MedicationRequest.doNotPerform is true: the request forbids the medication'
            else 'MedicationRequest.intent ''' || intent || ''' is a suggestion, not an order or plan'
        end
        when 'entered_in_error'
            then resource_type || '.status ''entered-in-error'': the record is void, and without a date and supply '
            || 'it cannot cancel a fill loaded before'
        when 'missing_claim_id' then resource_type || ' has no id (and its Bundle entry no fullUrl)'
        when 'missing_patient_id' then resource_type || '.subject names no Patient'
        when 'missing_fill_date' then case
            when is_dispense then 'MedicationDispense has no whenHandedOver or whenPrepared date'
            else 'MedicationRequest has no dosageInstruction.timing.repeat.boundsPeriod.start, authoredOn or '
                || 'dispenseRequest.validityPeriod.start date'
        end
        when 'bad_days_supply'
            then 'MedicationDispense.daysSupply unit ''' || supply_unit || ''' is not a unit of time (d, wk, mo, a, h)'
        when 'missing_supply' then case
            when is_dispense then 'MedicationDispense has no daysSupply, no quantity with a daily dose in a '
                || 'dosageInstruction, and no prescription with dispenseRequest.expectedSupplyDuration'
            else 'MedicationRequest has no dosageInstruction.timing.repeat.boundsPeriod.end or boundsDuration, no '
                || 'dispenseRequest.expectedSupplyDuration, and no dispenseRequest.quantity with a daily dose'
        end
        when 'missing_drug'
            then resource_type || '.medication[x] names no code or text (nor does a Medication it references)'
    end as reject_reason
from outcomes
