// Admin users: search, then a user's detail with ledger and jobs, credit adjustments (with an
// idempotency key) and suspension.
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { newIdempotencyKey } from "../../lib/idempotency";
import { Link, setQuery, useLocation } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { Alert, Async, Badge, Button, Card, Empty, FormError, onSubmit, PageHeader, Pager, Stat, Table, TextField, useSubmit } from "../../ui/kit";
import { AdminJobsTable } from "./Jobs";

const PAGE = 50;

export function AdminUsersPage() {
  const { query } = useLocation();
  const q = query.get("q") ?? "";
  const offset = Number(query.get("offset") ?? 0) || 0;
  const [search, setSearch] = useState(q);
  const users = useAsync(() => unwrap(api.GET("/api/admin/users", { params: { query: { q: q || undefined, limit: PAGE, offset } } })), [q, offset]);

  return (
    <>
      <PageHeader title="Admin · Users" />
      <Card>
        <form className="inline-form" role="search" onSubmit={onSubmit(() => setQuery({ q: search.trim(), offset: null }))}>
          <TextField label="Search users" type="search" placeholder="Email or user id" value={search} onChange={(e) => setSearch(e.target.value)} />
          <Button type="submit">Search</Button>
        </form>
        <Async state={users}>
          {(rows) =>
            rows.length ? (
              <>
                <Table caption="Users">
                  <thead>
                    <tr>
                      <th>Email</th>
                      <th>Name</th>
                      <th className="num">Credits</th>
                      <th>Joined</th>
                      <th>Status</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((u) => (
                      <tr key={u.id}>
                        <td><Link href={`/admin/users/${u.id}`}>{u.email}</Link></td>
                        <td>{`${u.first_name} ${u.last_name}`.trim() || "—"}</td>
                        <td className="num">{fmt.count(u.credits)}</td>
                        <td>{fmt.when(u.created_at)}</td>
                        <td>
                          {u.suspended_at ? <Badge status="suspended" /> : <Badge status="active" />} {u.is_admin && <Badge status="info">admin</Badge>}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
                <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={(o) => setQuery({ offset: o || null })} />
              </>
            ) : (
              <Empty title={q ? `No users match “${q}”` : "No users yet"} />
            )
          }
        </Async>
      </Card>
    </>
  );
}

function CreditAdjustment({ userId, onDone }: { userId: string; onDone: () => void }) {
  const [delta, setDelta] = useState("");
  const [note, setNote] = useState("");
  const [key, setKey] = useState(newIdempotencyKey);
  const [result, setResult] = useState<number | null>(null);
  const adjust = useSubmit(async () => {
    const body = { delta_credits: Number(delta), note, idempotency_key: key };
    const { balance_after } = await unwrap(api.POST("/api/admin/users/{id}/credits", { params: { path: { id: userId } }, body }));
    setResult(balance_after);
    setDelta("");
    setNote("");
    setKey(newIdempotencyKey());
    onDone();
  });
  return (
    <form onSubmit={onSubmit(() => void adjust.run())} noValidate>
      <FormError error={adjust.error} />
      {result !== null && <Alert kind="success">Adjusted. New balance: {fmt.credits(result)}.</Alert>}
      <div className="row-2">
        <TextField label="Credits (+ grant, − debit)" type="number" inputMode="numeric" value={delta}
          onChange={(e) => setDelta(e.target.value)} error={adjust.fields.delta_credits} />
        <TextField label="Note" value={note} onChange={(e) => setNote(e.target.value)} error={adjust.fields.note} hint="Shown in the ledger and the audit log." />
      </div>
      <p className="muted small">
        Idempotency key <code>{key}</code>: resubmitting this form never applies it twice.
      </p>
      <Button type="submit" variant="primary" busy={adjust.busy} disabled={!delta || Number(delta) === 0 || !note.trim()}>
        Apply adjustment
      </Button>
    </form>
  );
}

function Suspension({ user, onDone }: { user: Schemas["AdminUserDetail"]; onDone: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const suspended = !!user.suspended_at;
  const toggle = useSubmit(async () => {
    const params = { params: { path: { id: user.id } } };
    await unwrap(suspended ? api.POST("/api/admin/users/{id}/unsuspend", params) : api.POST("/api/admin/users/{id}/suspend", params));
    setConfirming(false);
    onDone();
  });
  return (
    <div>
      <FormError error={toggle.error} />
      {suspended ? (
        <p>Suspended {fmt.when(user.suspended_at)}. API keys and sessions are refused.</p>
      ) : (
        <p className="muted small">Suspending refuses every session and API key and cancels running jobs (their reservations are released).</p>
      )}
      {confirming || suspended ? (
        <div className="form-actions">
          <Button variant={suspended ? "primary" : "danger"} busy={toggle.busy} onClick={() => void toggle.run()}>
            {suspended ? "Unsuspend" : "Confirm suspension"}
          </Button>
          {!suspended && <Button variant="ghost" onClick={() => setConfirming(false)}>Cancel</Button>}
        </div>
      ) : (
        <Button variant="danger" onClick={() => setConfirming(true)}>
          Suspend…
        </Button>
      )}
    </div>
  );
}

function Ledger({ userId, version }: { userId: string; version: number }) {
  const [offset, setOffset] = useState(0);
  const ledger = useAsync(() => unwrap(api.GET("/api/admin/users/{id}/ledger", { params: { path: { id: userId }, query: { limit: 20, offset } } })), [userId, offset, version]);
  return (
    <Async state={ledger}>
      {(rows) =>
        rows.length ? (
          <>
            <Table caption="Ledger">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Kind</th>
                  <th className="num">Delta</th>
                  <th className="num">Balance</th>
                  <th>Note</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.id}>
                    <td>{fmt.when(r.created_at)}</td>
                    <td><code>{r.kind}</code></td>
                    <td className={`num ${r.delta < 0 ? "neg" : "pos"}`}>{r.delta > 0 ? `+${fmt.count(r.delta)}` : fmt.count(r.delta)}</td>
                    <td className="num">{fmt.count(r.balance_after)}</td>
                    <td className="truncate" title={r.idempotency_key ?? undefined}>{r.note ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
            <Pager offset={offset} limit={20} shown={rows.length} onChange={setOffset} />
          </>
        ) : (
          <Empty title="No ledger entries" />
        )
      }
    </Async>
  );
}

function UserJobs({ userId }: { userId: string }) {
  const [offset, setOffset] = useState(0);
  const jobs = useAsync(() => unwrap(api.GET("/api/admin/users/{id}/jobs", { params: { path: { id: userId }, query: { limit: 20, offset } } })), [userId, offset]);
  return (
    <Async state={jobs}>
      {(rows) => (
        <>
          <AdminJobsTable rows={rows} />
          <Pager offset={offset} limit={20} shown={rows.length} onChange={setOffset} />
        </>
      )}
    </Async>
  );
}

export function AdminUserDetailPage({ params }: { params: Record<string, string> }) {
  const id = params.id;
  const user = useAsync(() => unwrap(api.GET("/api/admin/users/{id}", { params: { path: { id } } })), [id]);
  const [version, setVersion] = useState(0);
  const changed = () => {
    user.reload();
    setVersion((v) => v + 1);
  };

  return (
    <>
      <p className="breadcrumb"><Link href="/admin/users">← Users</Link></p>
      <Async state={user}>
        {(u) => (
          <>
            <PageHeader
              title={u.email}
              description={
                <>
                  {`${u.first_name} ${u.last_name}`.trim() || "No name"} · joined {fmt.when(u.created_at)} · <code>{u.id}</code>
                </>
              }
              actions={u.suspended_at ? <Badge status="suspended" /> : <Badge status="active" />}
            />
            <div className="stats-grid stats-grid-4">
              <Card><Stat label="Credits" value={fmt.count(u.credits)} sub={fmt.creditsUsd(u.credits)} /></Card>
              <Card><Stat label="Jobs" value={fmt.count(u.jobs_count)} /></Card>
              <Card><Stat label="Open tickets" value={fmt.count(u.open_tickets)} /></Card>
              <Card><Stat label="Email" value={u.email_verified ? "Verified" : "Unverified"} sub={u.marketing_emails_enabled ? "Marketing: on" : "Marketing: off"} /></Card>
            </div>
            {u.stripe_customer_id && <p className="muted small">Stripe customer <code>{u.stripe_customer_id}</code></p>}
            <div className="two-col">
              <Card title="Adjust credits"><CreditAdjustment userId={u.id} onDone={changed} /></Card>
              <Card title="Suspension"><Suspension user={u} onDone={changed} /></Card>
            </div>
          </>
        )}
      </Async>
      <Card title="Ledger"><Ledger userId={id} version={version} /></Card>
      <Card title="Jobs"><UserJobs userId={id} /></Card>
    </>
  );
}
