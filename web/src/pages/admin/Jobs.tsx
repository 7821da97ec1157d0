// Admin jobs: filter by user and status; a job's raw request and response; refunds.
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { newIdempotencyKey } from "../../lib/idempotency";
import { Link, setQuery, useLocation } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { Alert, Async, Badge, Button, Card, Empty, FormError, onSubmit, PageHeader, Pager, Select, Stat, Table, TextField, useSubmit } from "../../ui/kit";
import { JobStatusValues } from "../../api/enums";
import { STATUS_OPTIONS } from "../Logs";

const PAGE = 50;

type JobRow = Schemas["AdminUserJobRow"] & { user_email?: string };

export function AdminJobsTable({ rows }: { rows: JobRow[] }) {
  if (!rows.length) return <Empty title="No jobs" />;
  const withUser = rows.some((r) => r.user_email);
  return (
    <Table caption="Jobs">
      <thead>
        <tr>
          <th>When</th>
          {withUser && <th>User</th>}
          <th>Question</th>
          <th>Status</th>
          <th className="num">Credits</th>
          <th className="num">Cost</th>
          <th className="num">Latency</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((j) => (
          <tr key={j.id}>
            <td>{fmt.when(j.created_at)}</td>
            {withUser && <td className="truncate">{j.user_email}</td>}
            <td className="truncate"><Link href={`/admin/jobs/${j.id}`}>{j.question}</Link></td>
            <td><Badge status={j.status} /></td>
            <td className="num">{fmt.count(j.credits_charged)}</td>
            <td className="num">{fmt.micros(j.cost_usd_micros)}</td>
            <td className="num">{fmt.latency(j.latency_ms)}</td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

export function AdminJobsPage() {
  const { query } = useLocation();
  const email = query.get("user_email") ?? "";
  const status = JobStatusValues.find((s) => s === query.get("status"));
  const offset = Number(query.get("offset") ?? 0) || 0;
  const [emailInput, setEmailInput] = useState(email);
  const jobs = useAsync(
    () => unwrap(api.GET("/api/admin/jobs", { params: { query: { user_email: email || undefined, status, limit: PAGE, offset } } })),
    [email, status, offset],
  );
  return (
    <>
      <PageHeader title="Admin · Jobs" />
      <Card>
        <form className="filters" role="search" onSubmit={onSubmit(() => setQuery({ user_email: emailInput.trim(), offset: null }))}>
          <TextField label="User email" type="search" value={emailInput} onChange={(e) => setEmailInput(e.target.value)} />
          <Select label="Status" options={STATUS_OPTIONS} value={status ?? ""} onChange={(e) => setQuery({ status: e.target.value, offset: null })} />
          <Button type="submit">Filter</Button>
        </form>
        <Async state={jobs}>
          {(rows) => (
            <>
              <AdminJobsTable rows={rows} />
              <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={(o) => setQuery({ offset: o || null })} />
            </>
          )}
        </Async>
      </Card>
    </>
  );
}

function Refund({ job, onDone }: { job: Schemas["AdminJobDetail"]; onDone: () => void }) {
  const [credits, setCredits] = useState(String(job.credits_charged));
  const [note, setNote] = useState("");
  const [key, setKey] = useState(newIdempotencyKey);
  const [done, setDone] = useState(false);
  const refund = useSubmit(async () => {
    await unwrap(
      api.POST("/api/admin/jobs/{id}/refund", {
        params: { path: { id: job.id } },
        body: { credits: Number(credits), note },
        headers: { "Idempotency-Key": key },
      }),
    );
    setDone(true);
    setKey(newIdempotencyKey());
    onDone();
  });
  if (job.credits_charged <= 0) return <p className="muted">Nothing was charged for this job.</p>;
  return (
    <form onSubmit={onSubmit(() => void refund.run())} noValidate>
      <FormError error={refund.error} />
      {done && <Alert kind="success">Refund recorded in the user's ledger.</Alert>}
      <div className="row-2">
        <TextField label="Credits to refund" type="number" min={1} max={job.credits_charged} inputMode="numeric" value={credits}
          onChange={(e) => setCredits(e.target.value)} error={refund.fields.credits} hint={`At most ${fmt.credits(job.credits_charged)} minus earlier refunds.`} />
        <TextField label="Note" value={note} onChange={(e) => setNote(e.target.value)} error={refund.fields.note} />
      </div>
      <Button type="submit" variant="primary" busy={refund.busy} disabled={!note.trim() || Number(credits) <= 0}>
        Refund
      </Button>
    </form>
  );
}

export function AdminJobDetailPage({ params }: { params: Record<string, string> }) {
  const job = useAsync(() => unwrap(api.GET("/api/admin/jobs/{id}", { params: { path: { id: params.id } } })), [params.id]);
  return (
    <>
      <p className="breadcrumb"><Link href="/admin/jobs">← Jobs</Link></p>
      <Async state={job}>
        {(j) => (
          <>
            <PageHeader title={j.question} description={<>Job <code>{j.id}</code> by <Link href={`/admin/users/${j.user_id}`}>{j.user_email}</Link></>}
              actions={<Badge status={j.status} />} />
            <div className="stats-grid stats-grid-4">
              <Card><Stat label="Charged" value={fmt.credits(j.credits_charged)} sub={`${fmt.count(j.credits_reserved)} reserved`} /></Card>
              <Card><Stat label="Provider cost" value={fmt.micros(j.cost_usd_micros)} /></Card>
              <Card><Stat label="Latency" value={fmt.latency(j.latency_ms)} sub={`${j.wave_count ?? 0} wave${j.wave_count === 1 ? "" : "s"} · ${j.source_count ?? 0} sources`} /></Card>
              <Card><Stat label="Created" value={fmt.ago(j.created_at)} sub={`completed ${fmt.when(j.completed_at)}`} /></Card>
            </div>
            {j.error && <Alert kind="error" title="Error">{j.error}</Alert>}
            <Card title="Refund"><Refund job={j} onDone={job.reload} /></Card>
            <div className="two-col">
              <Card title="Raw request"><pre className="code">{JSON.stringify(j.request, null, 2)}</pre></Card>
              <Card title="Raw response">
                {j.response ? <pre className="code">{JSON.stringify(j.response, null, 2)}</pre> : <Empty title="No response yet" />}
              </Card>
            </div>
          </>
        )}
      </Async>
    </>
  );
}
