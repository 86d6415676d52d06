-- sorted_distinct(items): the list's distinct non-null values in ascending order, as
-- list_sort(list_distinct(items)) gives them; a list of one non-null value is already that, and is taken
-- as it is (most lists an episode or an interaction side gathers have one value: sorting and deduplicating
-- them cost a tenth of the episode step). Created per connection (temp).
create or replace temp macro sorted_distinct(items) as
    case when len(items) = 1 and items[1] is not null then items else list_sort(list_distinct(items)) end
