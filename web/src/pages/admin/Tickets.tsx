// Admin tickets: filter by status and category; read, reply (optionally by email), close, reopen.
import { useState } from "react";
import { api, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { Link, setQuery, useLocation } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { Async, Badge, Button, Card, Checkbox, Empty, FormError, onSubmit, PageHeader, Pager, Select, Table, TextArea, useSubmit } from "../../ui/kit";
import { TICKET_CATEGORIES } from "../Support";

const PAGE = 50;
const STATUS_OPTIONS = [{ value: "", label: "All statuses" }, { value: "open", label: "open" }, { value: "closed", label: "closed" }];
const CATEGORY_OPTIONS = [{ value: "", label: "All categories" }, ...TICKET_CATEGORIES];

export function AdminTicketsPage() {
  const { query } = useLocation();
  const status = query.get("status") ?? "";
  const category = query.get("category") ?? "";
  const offset = Number(query.get("offset") ?? 0) || 0;
  const tickets = useAsync(
    () => unwrap(api.GET("/api/admin/tickets", { params: { query: { status: status || undefined, category: category || undefined, limit: PAGE, offset } } })),
    [status, category, offset],
  );
  return (
    <>
      <PageHeader title="Admin · Tickets" />
      <Card>
        <div className="filters">
          <Select label="Status" options={STATUS_OPTIONS} value={status} onChange={(e) => setQuery({ status: e.target.value, offset: null })} />
          <Select label="Category" options={CATEGORY_OPTIONS} value={category} onChange={(e) => setQuery({ category: e.target.value, offset: null })} />
        </div>
        <Async state={tickets}>
          {(rows) =>
            rows.length ? (
              <>
                <Table caption="Tickets">
                  <thead>
                    <tr>
                      <th>Subject</th>
                      <th>From</th>
                      <th>Category</th>
                      <th>Status</th>
                      <th className="num">Replies</th>
                      <th>Opened</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((t) => (
                      <tr key={t.id}>
                        <td className="truncate"><Link href={`/admin/tickets/${t.id}`}>{t.subject}</Link></td>
                        <td className="truncate">{t.email}</td>
                        <td>{t.category}</td>
                        <td><Badge status={t.status} /></td>
                        <td className="num">{t.reply_count}</td>
                        <td>{fmt.when(t.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
                <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={(o) => setQuery({ offset: o || null })} />
              </>
            ) : (
              <Empty title="No tickets match" />
            )
          }
        </Async>
      </Card>
    </>
  );
}

export function AdminTicketDetailPage({ params }: { params: Record<string, string> }) {
  const id = params.id;
  const ticket = useAsync(() => unwrap(api.GET("/api/admin/tickets/{id}", { params: { path: { id } } })), [id]);
  const [body, setBody] = useState("");
  const [sendEmail, setSendEmail] = useState(true);
  const reply = useSubmit(async () => {
    await unwrap(api.POST("/api/admin/tickets/{id}/reply", { params: { path: { id } }, body: { body, send_email: sendEmail } }));
    setBody("");
    ticket.reload();
  });
  const toggle = useSubmit(async (open: boolean) => {
    const options = { params: { path: { id } } };
    await unwrap(open ? api.POST("/api/admin/tickets/{id}/close", options) : api.POST("/api/admin/tickets/{id}/reopen", options));
    ticket.reload();
  });

  return (
    <>
      <p className="breadcrumb"><Link href="/admin/tickets">← Tickets</Link></p>
      <Async state={ticket}>
        {(t) => {
          const open = t.status !== "closed";
          return (
            <>
              <PageHeader
                title={t.subject}
                description={
                  <>
                    {t.category} · from {t.user_id ? <Link href={`/admin/users/${t.user_id}`}>{t.email}</Link> : t.email} · {fmt.when(t.created_at)}
                  </>
                }
                actions={
                  <>
                    <Badge status={t.status} />
                    <Button small busy={toggle.busy} onClick={() => void toggle.run(open)}>
                      {open ? "Close ticket" : "Reopen ticket"}
                    </Button>
                  </>
                }
              />
              <FormError error={toggle.error} />
              <Card>
                <div className="message">
                  <p className="message-head">{t.email}</p>
                  <p className="pre-wrap">{t.body}</p>
                </div>
                {t.replies.map((r) => (
                  <div key={r.id} className="message message-admin">
                    <p className="message-head">
                      Support · {fmt.when(r.created_at)} {r.sent_email ? <Badge status="succeeded">emailed</Badge> : <Badge status="queued">note</Badge>}
                    </p>
                    <p className="pre-wrap">{r.body}</p>
                  </div>
                ))}
                {!t.replies.length && <p className="muted small">No replies yet.</p>}
              </Card>
              <Card title="Reply">
                <form onSubmit={onSubmit(() => void reply.run())} noValidate>
                  <FormError error={reply.error} />
                  <TextArea label="Message" rows={5} value={body} onChange={(e) => setBody(e.target.value)} error={reply.fields.body} />
                  <Checkbox label={`Email this reply to ${t.email}`} checked={sendEmail} onChange={(e) => setSendEmail(e.target.checked)} />
                  <Button type="submit" variant="primary" busy={reply.busy} disabled={!body.trim()}>
                    {sendEmail ? "Send reply" : "Save note"}
                  </Button>
                </form>
              </Card>
            </>
          );
        }}
      </Async>
    </>
  );
}
