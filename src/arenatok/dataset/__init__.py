"""Tools over a finished build, which they only read: `built` reads one, `validate` checks it,
`card` makes its dataset card and Parquet file and pushes them to the Hub."""
