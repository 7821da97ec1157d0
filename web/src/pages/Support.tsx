// Support: a ticket form (the receipt names the ticket id) and the user's own tickets; replies arrive by email.
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { useUser } from "../auth";
import * as fmt from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Alert, Async, Badge, Button, Card, Empty, FormError, onSubmit, PageHeader, Select, Table, TextArea, TextField, useSubmit } from "../ui/kit";

export const TICKET_CATEGORIES = [
  { value: "general", label: "General question" },
  { value: "billing", label: "Billing" },
  { value: "bug", label: "Bug report" },
  { value: "account", label: "Account" },
  { value: "feature", label: "Feature request" },
];

export function SupportPage() {
  const user = useUser();
  const [category, setCategory] = useState("general");
  const [subject, setSubject] = useState("");
  const [body, setBody] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const tickets = useAsync(() => unwrap(api.GET("/api/support", { params: { query: { limit: 50 } } })), []);
  const submit = useSubmit(async () => {
    const receipt = await unwrap(api.POST("/api/support", { body: { category, subject, body } }));
    setSent(receipt.id);
    tickets.reload();
    setSubject("");
    setBody("");
  });

  return (
    <>
      <PageHeader title="Support" description={`We answer by email at ${user.email}, usually within one business day.`} />
      <Card>
        {sent && (
          <Alert kind="success" title="Ticket sent">
            Your ticket id is <code data-testid="ticket-id">{sent}</code>: quote it in any follow-up. We emailed you a confirmation.{" "}
            <Button small variant="ghost" onClick={() => setSent(null)}>Send another</Button>
          </Alert>
        )}
        {!sent && (
          <form onSubmit={onSubmit(() => void submit.run())} noValidate>
            <FormError error={submit.error} />
            <Select label="Category" options={TICKET_CATEGORIES} value={category} onChange={(e) => setCategory(e.target.value)} error={submit.fields.category} />
            <TextField label="Subject" maxLength={200} required value={subject} onChange={(e) => setSubject(e.target.value)} error={submit.fields.subject} />
            <TextArea label="How can we help?" rows={7} maxLength={10000} required value={body} onChange={(e) => setBody(e.target.value)}
              error={submit.fields.body} hint="Include job ids or payment dates if relevant." />
            <Button type="submit" variant="primary" busy={submit.busy}>
              Send ticket
            </Button>
          </form>
        )}
      </Card>
      <Card title="My tickets">
        <Async state={tickets}>
          {(list) =>
            list.length ? (
              <Table caption="My tickets">
                <thead>
                  <tr>
                    <th>Sent</th>
                    <th>Subject</th>
                    <th>Status</th>
                    <th className="num">Replies</th>
                    <th>Id</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((t) => (
                    <tr key={t.id}>
                      <td title={fmt.when(t.created_at)}>{fmt.ago(t.created_at)}</td>
                      <td className="truncate">{t.subject}</td>
                      <td><Badge status={t.status} /></td>
                      <td className="num">{t.reply_count}</td>
                      <td><code>{t.id.slice(0, 8)}</code></td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            ) : (
              <Empty title="No tickets yet">Tickets you send appear here with their status.</Empty>
            )
          }
        </Async>
      </Card>
    </>
  );
}
