package sqlstore

import (
	"strconv"
	"strings"
)

// filter builds a WHERE clause with $N placeholders for list queries.
type filter struct {
	conds []string
	args  []any
}

// arg adds a value and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

// where adds a condition; all conditions must hold.
func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

// in adds "col IN (ids)".
func (f *filter) in(col string, ids []int64) {
	var in string
	in, f.args = inList(f.args, ids)
	f.where(col + " IN (" + in + ")")
}

// afterID continues a keyset page from a cursor: values of the id column
// below it (desc) or above it.
func (f *filter) afterID(col, cursor string, desc bool) error {
	if cursor == "" {
		return nil
	}
	id, err := decodeIDCursor(cursor)
	if err != nil {
		return err
	}
	op := " > "
	if desc {
		op = " < "
	}
	f.where(col + op + f.arg(id))
	return nil
}

func (f *filter) sql() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// trimPage cuts a list fetched with limit+1 rows to limit and returns the
// cursor that continues after it ("" on the last page).
func trimPage[T any](list []T, limit int, id func(T) int64) ([]T, string) {
	if len(list) <= limit {
		return list, ""
	}
	list = list[:limit]
	return list, encodeIDCursor(id(list[limit-1]))
}
