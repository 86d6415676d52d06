-- CMS beneficiary summary rows as canonical patients, for stg_adapted_patients.sql (the layouts are in
-- transforms/adapters/pde.py's docstring): one row per beneficiary (BENE_ID, or DESYNPUF_ID in the
-- DE-SynPUF files), birth year from BENE_BIRTH_DT (YYYYMMDD, DD-MMM-YYYY, DDMMMYYYY or YYYY-MM-DD), sex
-- from the sex code (1 = M, 2 = F, 0 or anything else unknown), and Part D coverage: the Part D
-- coverage dates when the file gives them (PTD_CVRG_STRT_DT, PTD_CVRG_END_DT), else the first to the
-- last month of the reference year whose Part D contract id is a contract (a letter and four
-- characters, e.g. H1234; 0, N and X mean not enrolled in Part D that month), else the whole reference
-- year when the plan covered all 12 months; without a reference year (DE-SynPUF names it only in the
-- file name) the coverage is unknown. Several rows of one beneficiary (years) give the first start and
-- the last end. RIF rows with DML_IND DELETE are left out.
-- Input: pde_beneficiary (the file as trimmed text, NULL for an absent column). Macros: iso_date,
-- source_id.
with years as (
    select
        source_id(bene_id) as patient_id,
        year(try_cast(iso_date(bene_birth_dt, ['%Y%m%d', '%d-%b-%Y', '%d%b%Y']) as date)) as birth_year,
        case source_id(bene_sex_ident_cd) when '1' then 'M' when '2' then 'F' end as sex,
        try_cast(source_id(rfrnc_yr) as integer) as reference_year,
        try_cast(iso_date(ptd_cvrg_strt_dt, ['%Y%m%d', '%d-%b-%Y', '%d%b%Y']) as date) as part_d_start,
        try_cast(iso_date(ptd_cvrg_end_dt, ['%Y%m%d', '%d-%b-%Y', '%d%b%Y']) as date) as part_d_end,
        try_cast(source_id(plan_cvrg_mo_cnt) as integer) as covered_months,
        list_filter(
            range(1, 13),
            lambda m: coalesce(regexp_full_match(upper([
                ptd_cntrct_jan_id, ptd_cntrct_feb_id, ptd_cntrct_mar_id, ptd_cntrct_apr_id, ptd_cntrct_may_id,
                ptd_cntrct_jun_id, ptd_cntrct_jul_id, ptd_cntrct_aug_id, ptd_cntrct_sept_id, ptd_cntrct_oct_id,
                ptd_cntrct_nov_id, ptd_cntrct_dec_id
            ][m]), '[A-Z][0-9A-Z]{4}'), false)
        ) as contract_months
    from pde_beneficiary
    where coalesce(upper(dml_ind), 'INSERT') <> 'DELETE'
),

spans as (
    select
        *,
        case
            when part_d_start is not null then part_d_start
            when reference_year is null then null
            when len(contract_months) > 0 then make_date(reference_year, list_min(contract_months)::integer, 1)
            when covered_months = 12 then make_date(reference_year, 1, 1)
        end as coverage_start,
        case
            when part_d_start is not null then part_d_end
            when reference_year is null then null
            when len(contract_months) > 0
                then last_day(make_date(reference_year, list_max(contract_months)::integer, 1))
            when covered_months = 12 then make_date(reference_year, 12, 31)
        end as coverage_end
    from years
)

select
    patient_id,
    max(birth_year) as birth_year,
    max(sex) as sex,
    min(coverage_start) as coverage_start,
    max(coverage_end) as coverage_end
from spans
group by patient_id
