// Admin stats: the last 30 days of signups, jobs and credits, and the numbers to watch.
import { api, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { useAsync } from "../../lib/useAsync";
import { BarChart } from "../../ui/charts";
import { Async, Card, PageHeader, Stat } from "../../ui/kit";

export function AdminStatsPage() {
  const stats = useAsync(() => unwrap(api.GET("/api/admin/stats")), []);
  return (
    <>
      <PageHeader title="Admin · Stats" description="The service at a glance, last 30 days in UTC." actions={null} />
      <Async state={stats}>
        {(s) => {
          const revenue = s.topup_revenue_last_30d_cents;
          return (
            <>
              <div className="stats-grid stats-grid-4">
                <Card><Stat label="Users" value={fmt.count(s.total_users)} sub={`${fmt.count(s.suspended_users)} suspended`} /></Card>
                <Card><Stat label="Jobs in flight" value={fmt.count(s.in_flight_jobs)} /></Card>
                <Card><Stat label="Open tickets" value={fmt.count(s.open_tickets)} /></Card>
                <Card><Stat label="Top-up revenue, 30 days" value={fmt.cents(revenue)} /></Card>
                <Card><Stat label="Outstanding balances" value={fmt.credits(s.ledger_balance_outstanding)} sub={fmt.creditsUsd(s.ledger_balance_outstanding)} /></Card>
                <Card><Stat label="Jobs, 30 days" value={fmt.count(s.jobs_last_30d.reduce((n, b) => n + b.count, 0))} /></Card>
                <Card><Stat label="Signups, 30 days" value={fmt.count(s.signups_last_30d.reduce((n, b) => n + b.count, 0))} /></Card>
                <Card><Stat label="Provider cost, 30 days" value={fmt.micros(s.jobs_last_30d.reduce((n, b) => n + b.cost_usd_micros_sum, 0))} /></Card>
              </div>
              <div className="two-col">
                <Card title="Signups">
                  <BarChart title="Signups per day" tone="green" points={s.signups_last_30d.map((b) => ({ label: fmt.day(b.day), value: b.count }))} format={fmt.count} />
                </Card>
                <Card title="Jobs">
                  <BarChart title="Jobs per day" points={s.jobs_last_30d.map((b) => ({ label: fmt.day(b.day), value: b.count }))} format={fmt.count} />
                </Card>
                <Card title="Credits charged">
                  <BarChart title="Credits charged per day" tone="amber" points={s.jobs_last_30d.map((b) => ({ label: fmt.day(b.day), value: b.credits_charged_sum }))} format={fmt.credits} />
                </Card>
                <Card title="Provider cost">
                  <BarChart title="Provider cost per day" points={s.jobs_last_30d.map((b) => ({ label: fmt.day(b.day), value: b.cost_usd_micros_sum / 1_000_000 }))} format={fmt.usd} />
                </Card>
              </div>
            </>
          );
        }}
      </Async>
    </>
  );
}
