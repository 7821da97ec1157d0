// Logs: every research job of the account, newest first, with a status filter and an
// anonymize toggle (question text replaced by a stable placeholder, e.g. for screen sharing).
import { Fragment, useState } from "react";
import { api, unwrap } from "../api/client";
import { JobStatusValues } from "../api/enums";
import * as fmt from "../lib/format";
import { Link, setQuery, useLocation } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { Async, Badge, Button, Card, Checkbox, CodeBlock, Empty, PageHeader, Pager, Select, Table } from "../ui/kit";

const PAGE = 25;
export const STATUS_OPTIONS = [{ value: "", label: "All statuses" }, ...JobStatusValues.map((s) => ({ value: s, label: s }))];

type LogRow = { id: string; question: string; mode?: string | null };

/** What was asked and what came back, for one job (the answer is read when the row opens). */
function LogDetail({ row, anonymize }: { row: LogRow; anonymize: boolean }) {
  const response = useAsync(() => unwrap(api.GET("/api/playground/research/{id}", { params: { path: { id: row.id } } })), [row.id]);
  const request = { question: row.question, mode: row.mode };
  return (
    <div className="log-detail">
      <div>
        <h3>Request</h3>
        <CodeBlock code={JSON.stringify(request, null, 2)} />
      </div>
      <div>
        <h3>Response</h3>
        {anonymize ? (
          <p className="muted">Hidden while questions are anonymized.</p>
        ) : (
          <Async state={response}>{(result) => <CodeBlock code={JSON.stringify(result, null, 2)} />}</Async>
        )}
      </div>
    </div>
  );
}

export function LogsPage() {
  const [open, setOpen] = useState<string | null>(null);
  const { query } = useLocation();
  const offset = Number(query.get("offset") ?? 0) || 0;
  const anonymize = query.get("anonymize") === "1";
  const status = JobStatusValues.find((s) => s === query.get("status"));
  const logs = useAsync(
    () => unwrap(api.GET("/api/logs", { params: { query: { limit: PAGE, offset, anonymize, status } } })),
    [offset, anonymize, status],
  );

  return (
    <>
      <PageHeader title="Logs" description="Every research job on your account, from the API and the Playground." />
      <Card>
        <div className="filters">
          <Select label="Status" options={STATUS_OPTIONS} value={status ?? ""} onChange={(e) => setQuery({ status: e.target.value, offset: null })} />
          <Checkbox label="Anonymize questions" hint="Hide question text, e.g. while sharing your screen."
            checked={anonymize} onChange={(e) => setQuery({ anonymize: e.target.checked ? "1" : null, offset: null })} />
        </div>
        <Async state={logs}>
          {(rows) => (
              <>
                {rows.length ? (
                  <Table caption="Research jobs">
                    <thead>
                      <tr>
                        <th>When</th>
                        <th>Question</th>
                        <th className="wide-only">Mode</th>
                        <th>Status</th>
                        <th className="num">Credits</th>
                        <th className="num wide-only">Cost</th>
                        <th className="num wide-only">Sources</th>
                        <th className="num wide-only">Latency</th>
                        <th><span className="sr-only">Details</span></th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((row) => (
                        <Fragment key={row.id}>
                          <tr>
                            <td title={fmt.when(row.created_at)}>{fmt.ago(row.created_at)}</td>
                            <td className="truncate">
                              {anonymize ? row.question : <Link href={`/playground?job=${row.id}`}>{row.question}</Link>}
                            </td>
                            <td className="wide-only">{row.mode ?? "—"}</td>
                            <td><Badge status={row.status} /></td>
                            <td className="num">{fmt.count(row.credits_charged)}</td>
                            <td className="num wide-only">{fmt.micros(row.cost_usd_micros)}</td>
                            <td className="num wide-only">{row.source_count ?? "—"}</td>
                            <td className="num wide-only">{fmt.latency(row.latency_ms)}</td>
                            <td>
                              <Button small variant="ghost" aria-expanded={open === row.id} onClick={() => setOpen(open === row.id ? null : row.id)}>
                                {open === row.id ? "Hide" : "Details"}
                              </Button>
                            </td>
                          </tr>
                          {open === row.id && (
                            <tr className="log-detail-row">
                              <td colSpan={9}>
                                <LogDetail row={row} anonymize={anonymize} />
                              </td>
                            </tr>
                          )}
                        </Fragment>
                      ))}
                    </tbody>
                  </Table>
                ) : (
                  <Empty title={offset ? "No more jobs" : status ? `No ${status} jobs` : "No jobs yet"}>
                    {status ? "Try another status." : "Jobs appear here once you run research."}
                  </Empty>
                )}
                <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={(o) => setQuery({ offset: o || null })} />
              </>
          )}
        </Async>
      </Card>
    </>
  );
}
