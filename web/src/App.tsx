// Routes: the signed-out pages, then every page of the signed-in shell (admin pages for admins).
import { type ComponentType, useEffect } from "react";
import { useAuth } from "./auth";
import { match, Redirect, useLocation } from "./lib/router";
import { AdminJobDetailPage, AdminJobsPage } from "./pages/admin/Jobs";
import { AdminStatsPage } from "./pages/admin/Stats";
import { AdminStripeEventsPage } from "./pages/admin/StripeEvents";
import { AdminTicketDetailPage, AdminTicketsPage } from "./pages/admin/Tickets";
import { AdminUserDetailPage, AdminUsersPage } from "./pages/admin/Users";
import { ForgotPasswordPage, LoginPage, ResetPasswordPage, SignupPage } from "./pages/auth/AuthPages";
import { BillingPage } from "./pages/Billing";
import { KeysPage } from "./pages/Keys";
import { LogsPage } from "./pages/Logs";
import { OverviewPage } from "./pages/Overview";
import { PlaygroundPage } from "./pages/Playground";
import { SettingsPage } from "./pages/Settings";
import { SupportPage } from "./pages/Support";
import { Alert, Empty, Loading } from "./ui/kit";
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

function Banners() {
  const { user, reloadUser } = useAuth();
  const { query } = useLocation();
  const verified = query.get("verified") === "1";
  useEffect(() => {
    if (verified) void reloadUser().catch(() => undefined);
  }, [verified, reloadUser]);
  if (verified) return <Alert kind="success" title="Email verified">Thanks! Your starter credits are in your balance.</Alert>;
  if (user && !user.email_verified)
    return (
      <Alert kind="warning" title="Verify your email">
        We sent a link to {user.email}. Open it to activate your account and receive your starter credits.
      </Alert>
    );
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
