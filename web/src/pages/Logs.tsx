// Logs: every research job of the account, newest first, with a status filter and an
// anonymize toggle (question text replaced by a stable placeholder, e.g. for screen sharing).
import { api, unwrap } from "../api/client";
import { JobStatusValues } from "../api/enums";
import * as fmt from "../lib/format";
import { Link, setQuery, useLocation } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { Async, Badge, Card, Checkbox, Empty, PageHeader, Pager, Select, Table } from "../ui/kit";

const PAGE = 25;
export const STATUS_OPTIONS = [{ value: "", label: "All statuses" }, ...JobStatusValues.map((s) => ({ value: s, label: s }))];

export function LogsPage() {
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
                        <th>Mode</th>
                        <th>Status</th>
                        <th className="num">Credits</th>
                        <th className="num">Cost</th>
                        <th className="num">Sources</th>
                        <th className="num">Latency</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((row) => (
                        <tr key={row.id}>
                          <td title={fmt.when(row.created_at)}>{fmt.ago(row.created_at)}</td>
                          <td className="truncate">
                            {anonymize ? row.question : <Link href={`/playground?job=${row.id}`}>{row.question}</Link>}
                          </td>
                          <td>{row.mode ?? "—"}</td>
                          <td><Badge status={row.status} /></td>
                          <td className="num">{fmt.count(row.credits_charged)}</td>
                          <td className="num">{fmt.micros(row.cost_usd_micros)}</td>
                          <td className="num">{row.source_count ?? "—"}</td>
                          <td className="num">{fmt.latency(row.latency_ms)}</td>
                        </tr>
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
