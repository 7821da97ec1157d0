// Support: a ticket form; replies arrive by email.
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { useUser } from "../auth";
import { Alert, Button, Card, FormError, onSubmit, PageHeader, Select, TextArea, TextField, useSubmit } from "../ui/kit";

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
  const [sent, setSent] = useState(false);
  const submit = useSubmit(async () => {
    await unwrap(api.POST("/api/support", { body: { category, subject, body } }));
    setSent(true);
    setSubject("");
    setBody("");
  });

  return (
    <>
      <PageHeader title="Support" description={`We answer by email at ${user.email}, usually within one business day.`} />
      <Card>
        {sent && (
          <Alert kind="success" title="Ticket sent">
            We emailed you a confirmation. <Button small variant="ghost" onClick={() => setSent(false)}>Send another</Button>
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
    </>
  );
}
