// Package postgres opens medgate's store on PostgreSQL through pgx/v5, for
// clinics where several medgate instances share one database.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/medgate/medgate/mis/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is PostgreSQL's flavour of the shared SQL core.
func Dialect() sqlstore.Dialect {
	sub, _ := fs.Sub(migrations, "migrations")
	return sqlstore.Dialect{
		Name:              "postgres",
		Migrations:        sub,
		IsUniqueViolation: isUniqueViolation,
		// Instances starting together take turns migrating.
		MigrationLock: `SELECT pg_advisory_xact_lock(7305736179375961)`,
		NextIDs:       `SELECT nextval(pg_get_serial_sequence('observations', 'id')) FROM generate_series(1, $1)`,
		// Work done once per deployment (publishing events, sending
		// orders) is leased to one instance; the schema is part of the key,
		// as advisory locks are database-wide.
		AdvisoryLock:   `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ':' || $1::text, 0))`,
		AdvisoryUnlock: `SELECT pg_advisory_unlock(hashtextextended(current_schema() || ':' || $1::text, 0))`,
	}
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// Open connects to url (postgres://…) and migrates the schema.
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := sqlstore.New(ctx, db, db, Dialect())
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
