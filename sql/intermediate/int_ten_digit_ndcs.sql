-- ten_digit_ndcs: each distinct 10-digit NDC of the claims (written without hyphens, so its segment layout
-- is unknown) with the 11-digit NDC it is taken for: the one candidate (ndc_candidates) that the NDC
-- crosswalk or the list of lookalike NDCs knows. When none is known the code maps nothing; when several
-- are (`ambiguous`), it is not guessed: both leave the claim to its drug name.
-- Inputs: claims, ndc_crosswalk (int_ndc_crosswalk.sql), ndc_lookalikes (ndc: products without a rule
-- ingredient that share ten digits with a rule NDC). Macros: normalise_ndc, ndc_candidates.
with ten_digit as (
    select distinct claims.ndc as ndc10
    from claims
    where length(claims.ndc) = 10
),

known as (
    select ndc_crosswalk.ndc from ndc_crosswalk
    union
    select ndc_lookalikes.ndc from ndc_lookalikes
),

matches as (
    select ten_digit.ndc10, candidate.ndc
    from ten_digit, unnest(ndc_candidates(ten_digit.ndc10)) as candidate (ndc)
    where candidate.ndc in (select known.ndc from known)
)

select
    ten_digit.ndc10,
    case when count(matches.ndc) = 1 then min(matches.ndc) end as ndc,
    count(matches.ndc) > 1 as ambiguous
from ten_digit
left join matches on ten_digit.ndc10 = matches.ndc10
group by ten_digit.ndc10
