package sqlite

// OpenWrapped is Open with the write-ahead log's flush wrapped by wrap.
var OpenWrapped = open
