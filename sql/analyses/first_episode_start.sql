-- The first day of any exposure episode (where a prevalence table starts by default). Input: episodes.
select min(episode_start) as first_episode_start
from episodes
