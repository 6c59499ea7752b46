// Command medgate runs the device gateway and clinic information system:
// configuration, store, first-run setup, HTTP, and graceful shutdown. It
// only wires; the work is done in mis/, listeners/, parsers/ and mapping/.
package main

import (
	"context"
	"crypto/tls"
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
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/medgate/medgate/listeners"
	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/bootstrap"
	"github.com/medgate/medgate/mis/config"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/events"
	"github.com/medgate/medgate/mis/fhir"
	"github.com/medgate/medgate/mis/imaging"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/outbound"
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
	blobs, err := blob.Open(filepath.Join(cfg.Data, "dicom"))
	if err != nil {
		return err
	}
	pipeline := &ingest.Pipeline{Store: st, Blobs: blobs, Processors: map[listeners.Protocol]ingest.Processor{
		listeners.HL7:   ingest.HL7{Location: time.Local, MaxPatients: cfg.Limits.MaxPatientsPerOrg, Blobs: blobs},
		listeners.DICOM: ingest.DICOM{Store: st, Blobs: blobs, Location: time.Local, Issuer: imaging.IssuerOfPatientID},
	},
		AcceptUnknown: map[listeners.Protocol]bool{listeners.HL7: cfg.MLLP.AcceptUnknown, listeners.DICOM: cfg.DICOM.AcceptUnknown,
			listeners.ASTM: cfg.ASTM.AcceptUnknown},
		DefaultOrg: first.Organization.ID, Logger: log}
	if n, err := pipeline.Recover(ctx); err != nil {
		return fmt.Errorf("recover stored messages: %w", err)
	} else if n > 0 {
		log.Info("processed messages stored before the last stop", "count", n)
	}

	apiServer := &api.Server{
		Ingest: pipeline, Blobs: blobs,
		Store: st, Hasher: hasher, Logger: log,
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
		if cfg.MLLP.TLSCert != "" {
			tc, err := tlsConfig(cfg.MLLP.TLSCert, cfg.MLLP.TLSKey)
			if err != nil {
				ln.Close()
				mllpLn.Close()
				return fmt.Errorf("mllp TLS: %w", err)
			}
			mllpLn = tls.NewListener(mllpLn, tc)
		}
		// The responder answers analyzers' order queries (QRY^Q02, QRY^R02) after storing them.
		mllpServer = &mllp.Server{Handler: ingest.HL7Responder{Pipeline: pipeline, Location: time.Local}, Logger: log,
			Name:        "mllp " + mllpLn.Addr().String(),
			IdleTimeout: cfg.MLLP.IdleTimeout, MaxConns: cfg.MLLP.MaxConns, MaxMessageSize: cfg.MLLP.MaxMessageSize,
			// A device's profile may pin its acknowledgement mode.
			AckMode: func(ctx context.Context, env *listeners.Envelope) string {
				if dev, err := pipeline.Device(ctx, env); err == nil && dev != nil {
					return dev.AckMode
				}
				return ""
			},
			// A device's configured encoding reads an MSH without MSH-18.
			Charset: pipeline.Encoding}
	}
	var dicomServer *dul.Server
	var dicomLn net.Listener
	if cfg.DICOM.Enabled {
		if dicomServer, err = newDICOMServer(cfg, st, pipeline, blobs, log); err != nil {
			ln.Close()
			return err
		}
		dicomLn, err = net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.DICOM.Port)))
		if err != nil {
			ln.Close()
			return fmt.Errorf("dicom: %w", err)
		}
		dicomServer.Name = "dicom " + dicomLn.Addr().String()
	}

	banner(stdout, cfg, where, first, ln.Addr().String(), mllpLn, dicomLn)
	log.Info("medgate started", "database", dbKind(cfg), "http", ln.Addr().String())

	g, gctx := errgroup.WithContext(ctx)
	if cfg.MQTT.URL != "" {
		publisher := &events.Publisher{Store: st, BrokerURL: cfg.MQTT.URL, ClientID: cfg.MQTT.ClientID,
			TopicPrefix: cfg.MQTT.TopicPrefix, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password, Logger: log}
		// One instance per database publishes (a lease), so several medgates
		// on one PostgreSQL do not each publish every event.
		g.Go(func() error { return store.RunLeased(gctx, st, "events", 10*time.Second, log, publisher.Run) })
	}
	// Lab orders queued for the devices that receive them (ORM^O01 over
	// MLLP), sent by one instance per database.
	sender := &outbound.Sender{Store: st, Logger: log, Location: time.Local}
	g.Go(func() error { return store.RunLeased(gctx, st, "outbound", 10*time.Second, log, sender.Run) })
	// Messages a fault left stored but unprocessed are tried again, by one
	// instance per database.
	g.Go(func() error {
		return store.RunLeased(gctx, st, "retry", 10*time.Second, log, func(ctx context.Context) error {
			return pipeline.Retry(ctx, 30*time.Second, 2*time.Minute)
		})
	})
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
	if dicomServer != nil {
		stabilizer := &imaging.Stabilizer{Store: st, Quiet: cfg.DICOM.QuietPeriod, Logger: log}
		g.Go(func() error { return stabilizer.Run(gctx) })
		g.Go(func() error {
			// Like MLLP: Shutdown lets stores in flight be kept and answered.
			if err := dicomServer.Serve(context.WithoutCancel(gctx), dicomLn); !errors.Is(err, dul.ErrServerClosed) {
				return fmt.Errorf("dicom: %w", err)
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
		if dicomServer != nil {
			errs = append(errs, dicomServer.Shutdown(sctx))
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
func banner(w io.Writer, cfg config.Config, where string, first bootstrap.Result, httpAddr string, mllpLn, dicomLn net.Listener) {
	var b strings.Builder
	fmt.Fprintf(&b, "medgate is running\n")
	fmt.Fprintf(&b, "  database:  %s\n", where)
	fmt.Fprintf(&b, "  web/API:   http://%s  (REST API /api/v1, FHIR R4 /fhir/r4, health /healthz)\n", httpAddr)
	if mllpLn != nil {
		fmt.Fprintf(&b, "  HL7 MLLP:  %s%s\n", mllpLn.Addr(), map[bool]string{true: "  (TLS)"}[cfg.MLLP.TLSCert != ""])
	}
	if dicomLn != nil {
		fmt.Fprintf(&b, "  DICOM:     %s  AE title %s%s\n", dicomLn.Addr(), cfg.DICOM.AETitle, map[bool]string{true: " (TLS)"}[cfg.DICOM.TLSCert != ""])
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

// newDICOMServer builds the DICOM listener: storage into the pipeline,
// associations admitted by the device registry, the worklist and study
// queries scoped to the calling device's organization.
func newDICOMServer(cfg config.Config, st store.Store, pipeline *ingest.Pipeline, blobs *blob.FS, log *slog.Logger) (*dul.Server, error) {
	device := func(ctx context.Context, callingAE, peer string) (*domain.Device, error) {
		return pipeline.Device(ctx, &listeners.Envelope{Protocol: listeners.DICOM, CallingAE: callingAE, Peer: peer})
	}
	srv := &dul.Server{
		AETitle: cfg.DICOM.AETitle,
		Handler: pipeline,
		Acceptor: func(ctx context.Context, a *dul.Association) error {
			return pipeline.Admit(ctx, &listeners.Envelope{Protocol: listeners.DICOM, CallingAE: a.CallingAE, Peer: a.Peer})
		},
		Worklist:        &imaging.Worklist{Store: st, Device: device, Location: time.Local, Logger: log},
		StudyRoot:       &imaging.StudyRoot{Store: st, Device: device, Location: time.Local, Logger: log},
		MaxPDULength:    uint32(cfg.DICOM.MaxPDULength),
		MaxAssociations: cfg.DICOM.MaxAssociations,
		MaxInstanceSize: cfg.DICOM.MaxInstanceBytes,
		TempDir:         blobs.TempDir(),
		Logger:          log,
	}
	if cfg.DICOM.TLSCert != "" {
		tc, err := tlsConfig(cfg.DICOM.TLSCert, cfg.DICOM.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("dicom TLS: %w", err)
		}
		srv.TLSConfig = tc
	}
	return srv, nil
}

// tlsConfig is a listener's TLS: the certificate and key files, TLS 1.2
// or later.
func tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
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
