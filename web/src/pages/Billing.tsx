// Billing: buy credit packs or subscribe to a plan (Stripe Checkout), manage the card in the
// Stripe portal, see payments, and set up automatic top-ups.
import { useState } from "react";
import { api, type Schemas, unwrap } from "../api/client";
import * as fmt from "../lib/format";
import { useLocation } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { Alert, Async, Badge, Button, Card, Checkbox, Empty, FormError, onSubmit, PageHeader, Select, Table, TextField, useSubmit } from "../ui/kit";

function goTo(url: string) {
  window.location.assign(url);
}

type OfferProps = { title: string; price: string; lines: string[]; blurb: string; id: string; action: string; payable: boolean };

function Offer({ title, price, lines, blurb, id, action, payable }: OfferProps) {
  const checkout = useSubmit(async () => goTo((await unwrap(api.POST("/api/billing/checkout", { body: { pack_id: id } }))).url));
  return (
    <div className="offer">
      <h3>{title}</h3>
      <p className="offer-price">{price}</p>
      <p className="muted small">{blurb}</p>
      <ul className="offer-lines">
        {lines.map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <FormError error={checkout.error} />
      <Button variant="primary" busy={checkout.busy} disabled={!payable} onClick={() => void checkout.run()} aria-label={`${action} ${title}`}>
        {checkout.busy ? "Opening checkout…" : action}
      </Button>
    </div>
  );
}

function Packs({ packs, payable }: { packs: Schemas["PackDto"][]; payable: boolean }) {
  if (!packs.length) return <Empty title="No packs on sale" />;
  return (
    <div className="offers">
      {packs.map((p) => (
        <Offer key={p.id} id={p.id} title={p.name} price={fmt.cents(p.price_cents)} blurb={p.blurb} action="Buy" payable={payable}
          lines={[`${fmt.credits(p.credits)} · ${fmt.cents(Math.round((p.price_cents / p.credits) * 100))} per 100`]} />
      ))}
    </div>
  );
}

function Plans({ plans, payable }: { plans: Schemas["PlanDto"][]; payable: boolean }) {
  if (!plans.length) return <Empty title="No plans available" />;
  return (
    <div className="offers">
      {plans.map((p) => (
        <Offer key={p.id} id={p.id} title={p.name} price={`${fmt.cents(p.monthly_price_cents)}/month`} blurb={p.blurb} action="Subscribe" payable={payable}
          lines={[...p.features, `Cheaper than packs above ${fmt.credits(p.breakeven_credits)}/month`]} />
      ))}
    </div>
  );
}

function AutoTopup({ packs }: { packs: Schemas["PackDto"][] }) {
  const [enabled, setEnabled] = useState(false);
  const [threshold, setThreshold] = useState("100");
  const [packId, setPackId] = useState(packs[0]?.id ?? "");
  const [saved, setSaved] = useState(false);
  const save = useSubmit(async () => {
    setSaved(false);
    await unwrap(api.PUT("/api/billing/auto-topup", { body: { enabled, threshold_credits: Number(threshold), pack_id: packId } }));
    setSaved(true);
  });
  if (!packs.length) return null;
  return (
    <form onSubmit={onSubmit(() => void save.run())} noValidate>
      <p className="muted small">
        When your balance drops below the threshold, we charge your saved card for a pack. Your card is saved at your first checkout.
      </p>
      <FormError error={save.error} />
      {saved && <Alert kind="success">Auto top-up {enabled ? "enabled" : "disabled"}.</Alert>}
      <Checkbox label="Enable auto top-up" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
      <div className="row-2">
        <TextField label="Threshold (credits)" type="number" min={0} inputMode="numeric" value={threshold}
          onChange={(e) => setThreshold(e.target.value)} error={save.fields.threshold_credits} />
        <Select label="Pack to buy" value={packId} onChange={(e) => setPackId(e.target.value)} error={save.fields.pack_id}
          options={packs.map((p) => ({ value: p.id, label: `${p.name} — ${fmt.cents(p.price_cents)}` }))} />
      </div>
      <Button type="submit" busy={save.busy}>
        Save auto top-up
      </Button>
    </form>
  );
}

function History({ rows }: { rows: Schemas["PaymentRow"][] }) {
  if (!rows.length) return <Empty title="No payments yet">Purchases appear here once Stripe confirms them.</Empty>;
  return (
    <Table caption="Payment history">
      <thead>
        <tr>
          <th>Date</th>
          <th className="num">Credits</th>
          <th className="num">Amount</th>
          <th>Status</th>
          <th>Completed</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id}>
            <td>{fmt.when(r.created_at)}</td>
            <td className="num">{fmt.count(r.pack_credits)}</td>
            <td className="num">{fmt.cents(r.pack_amount_cents)}</td>
            <td><Badge status={r.status} /></td>
            <td>{fmt.when(r.completed_at)}</td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

export function BillingPage() {
  const { query } = useLocation();
  const balance = useAsync(() => unwrap(api.GET("/api/credits/balance")), []);
  const packs = useAsync(() => unwrap(api.GET("/api/billing/packs")), []);
  const plans = useAsync(() => unwrap(api.GET("/api/billing/plans")), []);
  const history = useAsync(() => unwrap(api.GET("/api/billing/payment-history")), []);
  const status = useAsync(() => unwrap(api.GET("/api/billing/status")), []);
  const portal = useSubmit(async () => goTo((await unwrap(api.POST("/api/billing/portal"))).url));
  const outcome = query.get("checkout");
  // Until the status is known, and on servers without Stripe, offer nothing that would fail on click.
  const payable = status.data?.payments_enabled === true;

  return (
    <>
      <PageHeader
        title="Billing"
        description="Credits never expire. 1 credit = US$0.01 of research."
        actions={
          <Button busy={portal.busy} disabled={!payable} onClick={() => void portal.run()}>
            Manage payment methods
          </Button>
        }
      />
      <FormError error={portal.error} />
      {status.data?.payments_enabled === false && (
        <Alert kind="info" title="Payments are not set up">
          This server does not take payments yet, so buying credits and subscribing are unavailable. Your balance and history are below.
        </Alert>
      )}
      {outcome === "success" && (
        <Alert kind="success" title="Payment received">Your credits appear as soon as Stripe confirms the payment, usually within seconds.</Alert>
      )}
      {(outcome === "cancel" || outcome === "canceled" || outcome === "cancelled") && <Alert kind="info">Checkout canceled. You were not charged.</Alert>}
      <Card>
        <Async state={balance}>{(b) => <p className="balance-line">Balance: <strong>{fmt.credits(b.credits)}</strong> <span className="muted">({fmt.usdString(b.usd)})</span></p>}</Async>
      </Card>
      <Card title="Credit packs">
        <Async state={packs}>{(list) => <Packs packs={list} payable={payable} />}</Async>
      </Card>
      <Card title="Monthly plans">
        <Async state={plans}>{(list) => <Plans plans={list} payable={payable} />}</Async>
      </Card>
      <Card title="Auto top-up">
        <Async state={packs}>{(list) => <AutoTopup packs={list} />}</Async>
      </Card>
      <Card title="Payment history">
        <Async state={history}>{(rows) => <History rows={rows} />}</Async>
      </Card>
    </>
  );
}
