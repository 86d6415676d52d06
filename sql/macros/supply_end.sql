-- supply_end(fill_date, days_supply, end_date, omop_end): where a fill's supply ends, the one
-- definition used by every statement. An order's own end date is used as given; else the fill date
-- plus the days supply, less one day in the inclusive convention (the last covered day:
-- fill_date + days_supply - 1) and not in the OMOP drug_era convention (omop_end true, the
-- [episodes] end_convention = "omop": the day after the last covered day, as the OHDSI era script
-- computes it). Created per connection (temp) by the steps that use it.
create or replace temp macro supply_end(fill_date, days_supply, end_date, omop_end) as
    coalesce(end_date, fill_date + days_supply - (case when omop_end then 0 else 1 end))
