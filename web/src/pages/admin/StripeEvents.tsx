// Admin Stripe events: every webhook event received, with replay (handlers are idempotent).
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { useAsync } from "../../lib/useAsync";
import { Async, Button, Card, Empty, PageHeader, Pager, Table, useSubmit } from "../../ui/kit";

const PAGE = 50;

function EventRow({ event }: { event: Schemas["AdminStripeEventRow"] }) {
  const [replayed, setReplayed] = useState(false);
  const replay = useSubmit(async () => {
    await unwrap(api.POST("/api/admin/stripe-events/{id}/replay", { params: { path: { id: event.id } } }));
    setReplayed(true);
  });
  return (
    <tr>
      <td>{fmt.when(event.received_at)}</td>
      <td><code>{event.event_type}</code></td>
      <td className="truncate"><code>{event.id}</code></td>
      <td className="actions">
        {replay.error && <span className="field-error">{replay.error.message}</span>}
        {replayed && <span className="muted small" role="status">Replayed ✓</span>}
        <Button small busy={replay.busy} disabled={!event.has_body} onClick={() => void replay.run()}
          title={event.has_body ? "Run the handler again on the stored body" : "No stored body to replay"} aria-label={`Replay ${event.id}`}>
          Replay
        </Button>
      </td>
    </tr>
  );
}

export function AdminStripeEventsPage() {
  const [offset, setOffset] = useState(0);
  const events = useAsync(() => unwrap(api.GET("/api/admin/stripe-events", { params: { query: { limit: PAGE, offset } } })), [offset]);
  return (
    <>
      <PageHeader title="Admin · Stripe events" description="Webhook events as received. Replaying is safe: credits are granted at most once per event." />
      <Card>
        <Async state={events}>
          {(rows) =>
            rows.length ? (
              <>
                <Table caption="Stripe events">
                  <thead>
                    <tr>
                      <th>Received</th>
                      <th>Type</th>
                      <th>Event id</th>
                      <th><span className="sr-only">Actions</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((e) => (
                      <EventRow key={e.id} event={e} />
                    ))}
                  </tbody>
                </Table>
                <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={setOffset} />
              </>
            ) : (
              <Empty title="No Stripe events yet">Events appear when Stripe calls the webhook endpoint.</Empty>
            )
          }
        </Async>
      </Card>
    </>
  );
}
