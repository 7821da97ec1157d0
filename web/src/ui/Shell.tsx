// The signed-in frame: navigation (a drawer under 800 px), the account menu and page body.
import { type ReactNode, useEffect, useState } from "react";
import { useAuth, useUser } from "../auth";
import { Link, useLocation } from "../lib/router";

const USER_NAV = [
  { href: "/", label: "Overview" },
  { href: "/playground", label: "Playground" },
  { href: "/collections", label: "Collections" },
  { href: "/keys", label: "API keys" },
  { href: "/logs", label: "Logs" },
  { href: "/billing", label: "Billing" },
  { href: "/settings", label: "Settings" },
  { href: "/support", label: "Support" },
];

const ADMIN_NAV = [
  { href: "/admin", label: "Stats" },
  { href: "/admin/users", label: "Users" },
  { href: "/admin/jobs", label: "Jobs" },
  { href: "/admin/tickets", label: "Tickets" },
  { href: "/admin/stripe-events", label: "Stripe events" },
];

function isCurrent(href: string, path: string): boolean {
  if (href === "/" || href === "/admin") return path === href;
  return path === href || path.startsWith(href + "/");
}

function NavList({ label, items, path }: { label: string; items: { href: string; label: string }[]; path: string }) {
  return (
    <div className="nav-group">
      <p className="nav-label">{label}</p>
      <ul>
        {items.map((item) => (
          <li key={item.href}>
            <Link href={item.href} className="nav-link" aria-current={isCurrent(item.href, path) ? "page" : undefined}>
              {item.label}
            </Link>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function Shell({ children, banner }: { children: ReactNode; banner?: ReactNode }) {
  const user = useUser();
  const { logout } = useAuth();
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  useEffect(() => {
    setOpen(false);
  }, [path]);

  return (
    <div className={`shell ${open ? "nav-open" : ""}`}>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="menu-button" aria-expanded={open} aria-controls="sidebar" onClick={() => setOpen(!open)}>
          <span aria-hidden="true">☰</span>
          <span className="sr-only">Menu</span>
        </button>
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden="true">I</span> Infrence
        </Link>
      </header>
      <nav id="sidebar" className="sidebar" aria-label="Main">
        <Link href="/" className="brand brand-side">
          <span className="brand-mark" aria-hidden="true">I</span> Infrence
        </Link>
        <NavList label="Workspace" items={USER_NAV} path={path} />
        {user.is_admin && <NavList label="Admin" items={ADMIN_NAV} path={path} />}
        <div className="sidebar-foot">
          <p className="whoami" title={user.email}>
            {(user.first_name || user.last_name) && <span>{`${user.first_name} ${user.last_name}`.trim()}</span>}
            <span className="muted">{user.email}</span>
          </p>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </nav>
      <div className="scrim" onClick={() => setOpen(false)} aria-hidden="true" />
      <main id="main" className="content" tabIndex={-1}>
        {banner}
        {children}
      </main>
    </div>
  );
}
