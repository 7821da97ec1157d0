// Overview: balance, 30 days of usage, recent jobs and a plan hint when a plan would be cheaper.
import { useState } from "react";
import { api, type Schemas, unwrap } from "../api/client";
import { useUser } from "../auth";
import * as fmt from "../lib/format";
import { Link } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { BarChart } from "../ui/charts";
import { Alert, Async, Badge, Card, Empty, PageHeader, Stat, Table } from "../ui/kit";

const DAY_MS = 86_400_000;

function last30Days(): { from: string; to: string } {
  const today = new Date();
  const start = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - 29 * DAY_MS;
  return { from: new Date(start).toISOString(), to: today.toISOString() };
}

/** The cheapest plan whose break-even point this month's usage has passed. */
export function planWorthIt(plans: Schemas["PlanDto"][], usedCredits: number): Schemas["PlanDto"] | undefined {
  return plans
    .filter((p) => p.breakeven_credits > 0 && usedCredits >= p.breakeven_credits)
    .sort((a, b) => a.monthly_price_cents - b.monthly_price_cents)[0];
}

function PlanHint({ used }: { used: number }) {
  const plans = useAsync(() => unwrap(api.GET("/api/billing/plans")), []);
  if (!plans.data?.length) return null;
  const plan = planWorthIt(plans.data, used);
  if (plan)
    return (
      <Alert kind="info" title={`Save with the ${plan.name} plan`}>
        You used {fmt.credits(used)} in the last 30 days. Above {fmt.credits(plan.breakeven_credits)} a month, the {plan.name} plan (
        {fmt.cents(plan.monthly_price_cents)}/month with {fmt.credits(plan.included_credits)} included) costs less than packs.{" "}
        <Link href="/billing">Compare plans</Link>
      </Alert>
    );
  const nearest = [...plans.data].filter((p) => p.breakeven_credits > 0).sort((a, b) => a.breakeven_credits - b.breakeven_credits)[0];
  return nearest ? (
    <p className="muted small">
      Tip: once you use more than {fmt.credits(nearest.breakeven_credits)} a month, the {nearest.name} plan saves money.
    </p>
  ) : null;
}

function UsageCharts({ buckets }: { buckets: Schemas["UsageBucket"][] }) {
  const [series, setSeries] = useState<"credits" | "jobs">("credits");
  if (!buckets.length) return <Empty title="No usage yet">Run your first research job in the Playground.</Empty>;
  const points = buckets.map((b) => ({ label: fmt.day(b.day), value: series === "credits" ? b.credits : b.jobs }));
  return (
    <>
      <div className="segmented" role="group" aria-label="Chart series">
        {(["credits", "jobs"] as const).map((s) => (
          <button key={s} type="button" aria-pressed={series === s} onClick={() => setSeries(s)}>
            {s === "credits" ? "Credits" : "Jobs"}
          </button>
        ))}
      </div>
      <BarChart
        points={points}
        title={series === "credits" ? "Credits used per day" : "Jobs per day"}
        format={series === "credits" ? fmt.credits : (n) => `${fmt.count(n)} job${n === 1 ? "" : "s"}`}
        tone={series === "credits" ? "accent" : "green"}
      />
    </>
  );
}

export function RecentJobs({ jobs }: { jobs: Schemas["RecentJob"][] }) {
  if (!jobs.length) return <Empty title="No jobs yet">Jobs you run from the Playground or the API appear here.</Empty>;
  return (
    <Table caption="Recent jobs">
      <thead>
        <tr>
          <th>Question</th>
          <th>Status</th>
          <th className="num">Credits</th>
          <th className="num">Latency</th>
          <th>When</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr key={job.id}>
            <td className="truncate">
              <Link href={`/playground?job=${job.id}`}>{job.question}</Link>
            </td>
            <td><Badge status={job.status} /></td>
            <td className="num">{fmt.count(job.credits_charged)}</td>
            <td className="num">{fmt.latency(job.latency_ms)}</td>
            <td title={fmt.when(job.created_at)}>{fmt.ago(job.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

export function OverviewPage() {
  const user = useUser();
  const balance = useAsync(() => unwrap(api.GET("/api/credits/balance")), []);
  const usage = useAsync(() => unwrap(api.GET("/api/dashboard/usage", { params: { query: last30Days() } })), []);
  const recent = useAsync(() => unwrap(api.GET("/api/dashboard/recent")), []);
  const used = usage.data?.reduce((sum, b) => sum + b.credits, 0) ?? 0;
  const jobs = usage.data?.reduce((sum, b) => sum + b.jobs, 0) ?? 0;

  return (
    <>
      <PageHeader
        title={user.first_name ? `Hello, ${user.first_name}` : "Overview"}
        description="Your balance, usage over the last 30 days and latest research jobs."
        actions={<Link href="/playground" className="btn btn-primary">New research</Link>}
      />
      <div className="stats-grid">
        <Card>
          <Async state={balance}>
            {(b) => <Stat label="Balance" value={fmt.credits(b.credits)} sub={`≈ ${fmt.usdString(b.usd)}`} />}
          </Async>
        </Card>
        <Card>
          <Async state={usage}>{() => <Stat label="Credits used, 30 days" value={fmt.count(used)} sub={fmt.creditsUsd(used)} />}</Async>
        </Card>
        <Card>
          <Async state={usage}>{() => <Stat label="Jobs, 30 days" value={fmt.count(jobs)} />}</Async>
        </Card>
      </div>
      {usage.data && <PlanHint used={used} />}
      <Card title="Usage, last 30 days">
        <Async state={usage}>{(buckets) => <UsageCharts buckets={buckets} />}</Async>
      </Card>
      <Card title="Recent jobs" actions={<Link href="/logs">All logs →</Link>}>
        <Async state={recent}>{(jobs) => <RecentJobs jobs={jobs} />}</Async>
      </Card>
    </>
  );
}
