-- The columns of a Parquet file as written (name, type, ...), to find the contract's columns in it
-- before it is read. Parameter: $p (the file's path).
describe select * from read_parquet($p)
