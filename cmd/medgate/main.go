// Command medgate runs the device gateway and clinic information system:
// configuration, store, first-run setup, HTTP, and graceful shutdown. It
// only wires; the work is done in mis/, listeners/, parsers/ and mapping/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/bootstrap"
	"github.com/medgate/medgate/mis/config"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/events"
	"github.com/medgate/medgate/mis/fhir"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/postgres"
	"github.com/medgate/medgate/mis/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "medgate:", err)
		return 2
	}
	log := newLogger(cfg.Log, stderr)
	if err := serve(ctx, cfg, getenv, log, stdout); err != nil {
		log.Error("medgate stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openStore(ctx context.Context, cfg config.Config) (store.Store, string, error) {
	if cfg.IsPostgres() {
		s, err := postgres.Open(ctx, cfg.Database.URL)
		return s, "PostgreSQL", err
	}
	path := cfg.SQLitePath()
	s, err := sqlite.Open(ctx, path)
	return s, "SQLite " + path, err
}

func serve(ctx context.Context, cfg config.Config, getenv func(string) string, log *slog.Logger, stdout io.Writer) error {
	st, where, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close database", "err", err)
		}
	}()
	hasher := auth.NewHasher(auth.DefaultParams, 2)
	first, err := bootstrap.FirstRun(ctx, st, hasher, domain.Organization{
		Name: cfg.Organization.Name, INN: cfg.Organization.INN, OGRN: cfg.Organization.OGRN, UIDRoot: cfg.DICOM.UIDRoot,
	}, getenv("MEDGATE_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("first-run setup: %w", err)
	}

	if len(cfg.Devices) > 0 {
		orgs := make([]int64, 0)
		all, err := st.ListOrganizations(ctx)
		if err != nil {
			return err
		}
		for _, o := range all {
			orgs = append(orgs, o.ID)
		}
		created, updated, err := api.ProvisionDevices(ctx, st, orgs, first.Organization.ID, cfg.Devices, func() *domain.AuditEvent {
			return &domain.AuditEvent{Login: "medgate.yaml", Action: domain.ActionUpdate, Event: "device.provision"}
		})
		if err != nil {
			return fmt.Errorf("devices from the config file: %w", err)
		}
		log.Info("devices provisioned from the config file", "created", created, "updated", updated)
	}

	// The ingest pipeline every device listener hands its messages to.
	// Devices send clinic-local timestamps without an offset: read them in
	// the machine's zone.
	pipeline := &ingest.Pipeline{Store: st, Processors: map[listeners.Protocol]ingest.Processor{
		listeners.HL7: ingest.HL7{Location: time.Local},
	},
		DefaultOrg: first.Organization.ID, Logger: log}
	if n, err := pipeline.Recover(ctx); err != nil {
		return fmt.Errorf("recover stored messages: %w", err)
	} else if n > 0 {
		log.Info("processed messages stored before the last stop", "count", n)
	}

	apiServer := &api.Server{
		Ingest: pipeline,
		Store:  st, Hasher: hasher, Logger: log,
		MaxPatients: cfg.Limits.MaxPatientsPerOrg, SessionTTL: cfg.Auth.SessionTTL, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Lockout: &auth.Lockout{Max: cfg.Auth.LoginMaxFailures, Period: cfg.Auth.LoginLockout},
	}
	fhirServer := &fhir.Server{Store: st, Authenticate: apiServer.Authenticate, Logger: log}
	mux := http.NewServeMux()
	mux.Handle("/fhir/r4/", fhirServer.Handler())
	mux.Handle("/", apiServer.Handler())
	httpServer := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.HTTP.ReadTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}

	// Device listeners open only now, after Recover: nothing new arrives
	// while messages from the last run are still being processed.
	var mllpServer *mllp.Server
	var mllpLn net.Listener
	if cfg.MLLP.Enabled {
		mllpLn, err = net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.MLLP.Port)))
		if err != nil {
			ln.Close()
			return fmt.Errorf("mllp: %w", err)
		}
		mllpServer = &mllp.Server{Handler: pipeline, Logger: log, Name: "mllp " + mllpLn.Addr().String()}
	}

	banner(stdout, cfg, where, first, ln.Addr().String(), mllpLn)
	log.Info("medgate started", "database", dbKind(cfg), "http", ln.Addr().String())

	g, gctx := errgroup.WithContext(ctx)
	if cfg.MQTT.URL != "" {
		publisher := &events.Publisher{Store: st, BrokerURL: cfg.MQTT.URL, ClientID: cfg.MQTT.ClientID,
			TopicPrefix: cfg.MQTT.TopicPrefix, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password, Logger: log}
		g.Go(func() error { return publisher.Run(gctx) })
	}
	g.Go(func() error {
		if err := httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	if mllpServer != nil {
		g.Go(func() error {
			// Not gctx: cancelling Serve's context drops connections, while
			// Shutdown below lets in-flight messages be stored and acked.
			if err := mllpServer.Serve(context.WithoutCancel(gctx), mllpLn); !errors.Is(err, mllp.ErrServerClosed) {
				return fmt.Errorf("mllp: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: finishing in-flight requests", "timeout", cfg.HTTP.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
		defer cancel()
		var errs []error
		if mllpServer != nil {
			// In-flight messages are stored and acknowledged before the
			// database closes.
			errs = append(errs, mllpServer.Shutdown(sctx))
		}
		errs = append(errs, httpServer.Shutdown(sctx))
		return errors.Join(errs...)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("medgate stopped cleanly")
	return nil
}

func dbKind(cfg config.Config) string {
	if cfg.IsPostgres() {
		return "postgres"
	}
	return "sqlite"
}

// banner tells the operator where everything is. The generated admin
// password is printed here once, on the console, never to the log.
func banner(w io.Writer, cfg config.Config, where string, first bootstrap.Result, httpAddr string, mllpLn net.Listener) {
	var b strings.Builder
	fmt.Fprintf(&b, "medgate is running\n")
	fmt.Fprintf(&b, "  database:  %s\n", where)
	fmt.Fprintf(&b, "  web/API:   http://%s  (REST API /api/v1, FHIR R4 /fhir/r4, health /healthz)\n", httpAddr)
	if mllpLn != nil {
		fmt.Fprintf(&b, "  HL7 MLLP:  %s\n", mllpLn.Addr())
	}
	if cfg.MQTT.URL != "" {
		fmt.Fprintf(&b, "  events:    MQTT %s, topics %s/<organization>/<kind>\n", redactURL(cfg.MQTT.URL), cfg.MQTT.TopicPrefix)
	}
	if first.Created {
		fmt.Fprintf(&b, "  first start: created organization %q and user \"admin\"\n", first.Organization.Name)
		if first.Password != "" {
			fmt.Fprintf(&b, "  admin password (shown once, change it): %s\n", first.Password)
		} else {
			fmt.Fprintf(&b, "  admin password: from MEDGATE_ADMIN_PASSWORD\n")
		}
	}
	fmt.Fprintf(&b, "Press Ctrl+C to stop.\n")
	_, _ = io.WriteString(w, b.String())
}

// redactURL drops credentials from a URL before it is printed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	return u.String()
}
