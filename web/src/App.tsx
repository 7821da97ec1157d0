// Routes: the signed-out pages, then every page of the signed-in shell (admin pages for admins).
import { type ComponentType, useEffect, useState } from "react";
import { api, ApiError, unwrap } from "./api/client";
import { useAuth } from "./auth";
import { match, Redirect, useLocation } from "./lib/router";
import { AdminJobDetailPage, AdminJobsPage } from "./pages/admin/Jobs";
import { AdminStatsPage } from "./pages/admin/Stats";
import { AdminStripeEventsPage } from "./pages/admin/StripeEvents";
import { AdminTicketDetailPage, AdminTicketsPage } from "./pages/admin/Tickets";
import { AdminUserDetailPage, AdminUsersPage } from "./pages/admin/Users";
import { ForgotPasswordPage, LoginPage, ResetPasswordPage, SignupPage } from "./pages/auth/AuthPages";
import { BillingPage } from "./pages/Billing";
import { CollectionDocumentPage, CollectionPage, CollectionsPage } from "./pages/Collections";
import { CorpusPage } from "./pages/Corpus";
import { KeysPage } from "./pages/Keys";
import { LogsPage } from "./pages/Logs";
import { OverviewPage } from "./pages/Overview";
import { PlaygroundPage } from "./pages/Playground";
import { SettingsPage } from "./pages/Settings";
import { SupportPage } from "./pages/Support";
import { Alert, Button, Empty, Loading } from "./ui/kit";
import { Shell } from "./ui/Shell";

type Page = ComponentType<{ params: Record<string, string> }>;

const PUBLIC: Record<string, ComponentType> = {
  "/login": LoginPage,
  "/signup": SignupPage,
  "/forgot-password": ForgotPasswordPage,
  "/reset-password": ResetPasswordPage,
};

const PAGES: [string, Page][] = [
  ["/", OverviewPage],
  ["/playground", PlaygroundPage],
  ["/collections", CollectionsPage],
  ["/collections/:id", CollectionPage],
  ["/collections/:id/documents/:doc", CollectionDocumentPage],
  ["/corpus", CorpusPage],
  ["/keys", KeysPage],
  ["/logs", LogsPage],
  ["/billing", BillingPage],
  ["/settings", SettingsPage],
  ["/support", SupportPage],
];

const ADMIN_PAGES: [string, Page][] = [
  ["/admin", AdminStatsPage],
  ["/admin/users", AdminUsersPage],
  ["/admin/users/:id", AdminUserDetailPage],
  ["/admin/jobs", AdminJobsPage],
  ["/admin/jobs/:id", AdminJobDetailPage],
  ["/admin/tickets", AdminTicketsPage],
  ["/admin/tickets/:id", AdminTicketDetailPage],
  ["/admin/stripe-events", AdminStripeEventsPage],
];

function NotFound() {
  return <Empty title="Page not found">There is nothing at this address. Use the menu to find your way.</Empty>;
}

function Forbidden() {
  return <Alert kind="error" title="Admins only">Your account cannot open the admin pages.</Alert>;
}

function resolve(path: string, isAdmin: boolean): { Page: Page; params: Record<string, string> } {
  for (const [pattern, Page] of PAGES) {
    const params = match(pattern, path);
    if (params) return { Page, params };
  }
  for (const [pattern, Page] of ADMIN_PAGES) {
    const params = match(pattern, path);
    if (params) return { Page: isAdmin ? Page : Forbidden, params };
  }
  return { Page: NotFound, params: {} };
}

type MailDelivery = "smtp" | "console" | "log";

const WHERE_MAIL_WENT: Record<MailDelivery, string> = {
  smtp: "Open it to activate your account and receive your starter credits.",
  console:
    "This server has no mail server configured (dev), so the message — link included — is printed in the console where `infrence serve` runs. Open that link to activate your account and receive your starter credits.",
  log: "This server keeps mail in its outbox only: run `infrence mail list` and `infrence mail show ID` on the server to read the link.",
};

/** The unverified user's banner: where the link went, and a way to get a fresh one. */
function VerifyEmailBanner({ email }: { email: string }) {
  const [delivery, setDelivery] = useState<MailDelivery>("smtp");
  const [resend, setResend] = useState<{ busy: boolean; message?: string; error?: string }>({ busy: false });
  useEffect(() => {
    unwrap(api.GET("/api/auth/mail-delivery")).then((d) => setDelivery(d.delivery), () => undefined);
  }, []);
  const onResend = async () => {
    setResend({ busy: true });
    try {
      const sent = await unwrap(api.POST("/api/auth/resend-verification"));
      setDelivery(sent.delivery);
      setResend({ busy: false, message: `A new link was sent to ${email}.` });
    } catch (err) {
      setResend({ busy: false, error: err instanceof ApiError ? err.message : String(err) });
    }
  };
  return (
    <Alert kind="warning" title="Verify your email">
      <p>
        We sent a link to {email}. {WHERE_MAIL_WENT[delivery]}
      </p>
      <p className="page-actions">
        <Button small busy={resend.busy} onClick={() => void onResend()}>
          Resend the link
        </Button>
        {resend.message && <span role="status">{resend.message}</span>}
        {resend.error && <span role="alert">{resend.error}</span>}
      </p>
    </Alert>
  );
}

function Banners() {
  const { user, reloadUser } = useAuth();
  const { query } = useLocation();
  const verified = query.get("verified") === "1";
  useEffect(() => {
    if (verified) void reloadUser().catch(() => undefined);
  }, [verified, reloadUser]);
  if (verified) return <Alert kind="success" title="Email verified">Thanks! Your starter credits are in your balance.</Alert>;
  if (user && !user.email_verified) return <VerifyEmailBanner email={user.email} />;
  return null;
}

export function App() {
  const { status, user } = useAuth();
  const { path, query } = useLocation();

  useEffect(() => {
    const title = path === "/" ? "Overview" : path.split("/").filter(Boolean).map((p) => p.replace(/-/g, " ")).join(" · ");
    document.title = `${title.charAt(0).toUpperCase()}${title.slice(1)} — Infrence`;
  }, [path]);

  if (status === "loading") return <Loading label="Signing you in…" />;

  const PublicPage = PUBLIC[path === "/reset" ? "/reset-password" : path];
  if (status === "signed-out") {
    if (PublicPage) return <PublicPage />;
    const next = path === "/" ? "" : `next=${encodeURIComponent(path + window.location.search)}`;
    const verified = query.get("verified") === "1" ? "verified=1" : "";
    const search = [verified, next].filter(Boolean).join("&");
    return <Redirect to={`/login${search ? `?${search}` : ""}`} />;
  }
  if (PublicPage && path !== "/reset-password") return <Redirect to="/" />;
  if (PublicPage) return <PublicPage />;

  const { Page, params } = resolve(path, !!user?.is_admin);
  return (
    <Shell banner={<Banners />}>
      <Page key={path} params={params} />
    </Shell>
  );
}
