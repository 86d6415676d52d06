-- stg_fhir_claims: the MedicationDispense and MedicationRequest resources of a --format fhir input as
-- canonical claims, one row per resource (the mapping and why: transforms/adapters/fhir.py's
-- docstring), with lineage (source_file; __row: the NDJSON line or Bundle entry; raw: the resource
-- without its narrative `text`, bounded to $raw_chars characters) and pre-rejects (reject_code,
-- reject_reason naming the FHIR field). Read per source file by stg_fhir_file_claims.sql.
-- In short: a dispense is a fill (fill date whenHandedOver, else whenPrepared); a request is an order
-- (fill date = its start) only for a patient with no MedicationDispense in the input; a request that
-- authorises a dispense in the input, or of a patient whose dispenses the input holds, is quarantined as
-- context; entered-in-error records are reversals of the record; statuses that mean nothing was handed
-- over (or prescribed) are quarantined with the status in the reason.
-- Parameter: $raw_chars. Input: stg_fhir_resources (stg_fhir_resources.sql).
-- Macros: fhir_reference, fhir_patient_id, fhir_date, fhir_days.
with resources as (
    select * from stg_fhir_resources where valid or role = 'claims'
),

-- What a reference can name: each resource under its key ('Type/id', else its entry's fullUrl) and under
-- its Bundle entry's fullUrl; the first copy (by file and row) wins when several files hold one
-- resource. Content is kept for the resources read through references.
lookups as (
    select key as lookup, key, resource_type, text, source_file, source_row
    from resources
    where valid and key is not null
    union all
    select full_url as lookup, key, resource_type, text, source_file, source_row
    from resources
    where valid and full_url is not null and full_url is distinct from key
),

targets as (
    select
        lookup,
        key,
        resource_type,
        case when resource_type in ('Medication', 'MedicationRequest', 'PractitionerRole') then text end as text
    from lookups
    qualify row_number() over (partition by lookup order by source_file, source_row) = 1
),

-- The fields read, parsed once (from_json: an absent or differently shaped field is NULL). STU3 and R4
-- differ only in names read side by side: requester.agent (STU3) / requester (R4), dosage doseQuantity
-- (STU3) / doseAndRate.doseQuantity (R4), MedicationDispense.notDone (STU3 only).
items as (
    select
        source_file,
        source_row as __row,
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
    where role = 'claims' and (not valid or resource_type in ('MedicationDispense', 'MedicationRequest'))
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
        coalesce(r.dosageInstruction, []) as dosages,
        case when is_dispense then r.quantity else json_extract(r.dispenseRequest, '$.quantity') end as supplied,
        list_min(list_transform(
            coalesce(r.dosageInstruction, []),
            lambda d: fhir_date(json_extract_string(d, '$.timing.repeat.boundsPeriod.start'))
        )) as dosage_start,
        list_max(list_transform(
            coalesce(r.dosageInstruction, []),
            lambda d: fhir_date(json_extract_string(d, '$.timing.repeat.boundsPeriod.end'))
        )) as dosage_end,
        fhir_date(r.authoredOn) as authored_on,
        fhir_date(json_extract_string(r.dispenseRequest, '$.validityPeriod.start')) as valid_from
    from items
),

-- Each dispense's first performer that is an Organization (the pharmacy), by position.
performers as (
    select source_file, __row, unnest(r.performer) as performer, generate_subscripts(r.performer, 1) as position
    from items
    where is_dispense and r.performer is not null
),

pharmacies as (
    select
        performers.source_file,
        performers.__row,
        arg_min(coalesce(actor.key, fhir_reference(json_extract_string(performer, '$.actor.reference'))), position)
            as organization
    from performers
    left join targets as actor on fhir_reference(json_extract_string(performer, '$.actor.reference')) = actor.lookup
    where
        coalesce(
            actor.resource_type,
            regexp_extract(fhir_reference(json_extract_string(performer, '$.actor.reference')), '^([A-Z][A-Za-z]+)/', 1)
        ) = 'Organization'
    group by all
),

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
        case when f.is_dispense then prescription.text::json when not f.is_dispense then f.text::json end
            as prescription,
        case when f.is_dispense then coalesce(prescription.key, f.prescription_reference) else f.key end as rx_reference,
        coalesce(
            pharmacies.organization,
            fhir_reference(json_extract_string(f.r.performer[1], '$.onBehalfOf.reference')),
            fhir_reference(json_extract_string(f.r.location, '$.reference'))
        ) as pharmacy_id
    from fields as f
    left join targets as subject on f.subject_reference = subject.lookup
    left join targets as medication
        on fhir_reference(f.medication_reference) = medication.lookup and medication.resource_type = 'Medication'
    left join targets as prescription
        on f.is_dispense and f.prescription_reference = prescription.lookup
        and prescription.resource_type = 'MedicationRequest'
    left join pharmacies on f.source_file = pharmacies.source_file and f.__row = pharmacies.__row
),

-- The drug: the medication's CodeableConcept (medicationCodeableConcept, else the code of the Medication
-- named by medicationReference, contained or in the input), its RxNorm and NDC codings, and a name: the
-- concept's text, else a coding's display, else the reference's display, else the Medication's
-- ingredients. The prescriber: the requester of the prescription (a dispense's authorizingPrescription,
-- a request itself), the practitioner of a PractitionerRole in the input.
described as (
    select
        resolved.*,
        coalesce(resolved.r.medicationCodeableConcept, json_extract(resolved.medication, '$.code')) as concept,
        coalesce(
            json_extract_string(resolved.prescription, '$.requester.reference'),
            json_extract_string(resolved.prescription, '$.requester.agent.reference')
        ) as requester_reference,
        coalesce(
            json_extract_string(resolved.prescription, '$.requester.identifier.value'),
            json_extract_string(resolved.prescription, '$.requester.agent.identifier.value')
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
        fhir_reference(json_extract_string(requester.text, '$.practitioner.reference')) as role_practitioner
    from described as d
    left join targets as requester on fhir_reference(d.requester_reference) = requester.lookup
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
        coalesce(c.dosages[1], json_extract(c.prescription, '$.dosageInstruction[0]')) as dosage
    from coded as c
),

supplied as (
    select
        d.*,
        fhir_days(
            json_extract_string(d.r.daysSupply, '$.value'),
            coalesce(json_extract_string(d.r.daysSupply, '$.code'), json_extract_string(d.r.daysSupply, '$.unit'))
        ) as supply_days,
        json_extract_string(d.r.daysSupply, '$.value') as supply_value,
        coalesce(json_extract_string(d.r.daysSupply, '$.code'), json_extract_string(d.r.daysSupply, '$.unit'))
            as supply_unit,
        fhir_days(
            json_extract_string(d.prescription, '$.dispenseRequest.expectedSupplyDuration.value'),
            coalesce(
                json_extract_string(d.prescription, '$.dispenseRequest.expectedSupplyDuration.code'),
                json_extract_string(d.prescription, '$.dispenseRequest.expectedSupplyDuration.unit')
            )
        ) as expected_days,
        list_max(list_transform(
            d.dosages,
            lambda x: fhir_days(
                json_extract_string(x, '$.timing.repeat.boundsDuration.value'),
                coalesce(
                    json_extract_string(x, '$.timing.repeat.boundsDuration.code'),
                    json_extract_string(x, '$.timing.repeat.boundsDuration.unit')
                )
            )
        )) as bounds_days,
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

-- Requests that a dispense in the input authorises, and patients with any dispense in the input.
dispensed_requests as (
    select distinct coalesce(target.key, fhir_reference(json_extract_string(a.reference, '$.reference'))) as key
    from (select unnest(r.authorizingPrescription) as reference from items where is_dispense) as a
    left join targets as target on fhir_reference(json_extract_string(a.reference, '$.reference')) = target.lookup
),

identified as (
    select
        s.*,
        case when s.subject_type in ('Patient', '') then fhir_patient_id(s.patient_key) end as patient_id
    from supplied as s
),

dispensed_patients as (
    select distinct patient_id from identified where is_dispense and patient_id is not null
),

mapped as (
    select
        i.*,
        i.status = 'entered-in-error' as voided,
        case
            when i.is_dispense then i.dispensed_on
            else coalesce(i.dosage_start, i.authored_on, i.valid_from)
        end as fill_date,
        case when not i.is_dispense then i.dosage_end end as end_date,
        ceil(
            case
                when i.is_dispense
                    then coalesce(
                        i.supply_days,
                        case
                            when i.quantity_unit is not distinct from i.dose_unit and i.daily_dose > 0
                                then greatest(floor(i.quantity_value / i.daily_dose), 1)
                        end,
                        i.expected_days
                    )
                when i.dosage_end is null
                    then coalesce(
                        i.bounds_days,
                        i.expected_days,
                        case
                            when i.quantity_unit is not distinct from i.dose_unit and i.daily_dose > 0
                                then greatest(floor(i.quantity_value / i.daily_dose), 1)
                        end
                    )
            end
        )::bigint as days_supply,
        coalesce(
            nullif(trim(json_extract_string(i.concept, '$.text')), ''),
            json_extract_string(i.rxnorm_coding, '$.display'),
            json_extract_string(i.ndc_coding, '$.display'),
            i.any_display,
            nullif(trim(i.medication_display), ''),
            nullif(i.ingredient_names, '')
        ) as drug_name,
        json_extract_string(i.rxnorm_coding, '$.code') as rxcui,
        json_extract_string(i.ndc_coding, '$.code') as ndc,
        case
            when i.requester_reference is null then i.requester_identifier
            when i.requester_type = 'PractitionerRole' and i.role_practitioner is not null then i.role_practitioner
            when i.requester_type in ('Practitioner', 'PractitionerRole', '') then i.requester_key
        end as prescriber_id,
        coalesce(i.key in (select dispensed_requests.key from dispensed_requests), false) as dispensed_request,
        coalesce(i.patient_id in (select dispensed_patients.patient_id from dispensed_patients), false)
            as dispensed_patient
    from identified as i
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
            when days_supply is null and end_date is null then 'missing_supply'
            when rxcui is null and ndc is null and drug_name is null then 'missing_drug'
        end as reject_code
    from mapped
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
    __row,
    case
        when length(raw_text) <= $raw_chars then raw_text
        else to_json(struct_pack(
            truncated_to := $raw_chars, characters := length(raw_text), resource := left(raw_text, $raw_chars)
        ))::varchar
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
from (
    select
        *,
        voided and reject_code is null as reversal,
        case when valid then json_merge_patch(text, '{"text": null}')::varchar else text end as raw_text
    from judged
)
