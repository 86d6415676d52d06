-- The name of the warehouse's database on this connection (temp tables shadow its tables by name, so
-- an incremental night names the warehouse's own tables with it).
select current_database() as database_name
