// The plan review step of a job run with `plan_approval`: it waits after planning; here its
// queries are edited, removed or added, then approved (POST …/plan) and the same job searches them.
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { Alert, Button, Card, FormError, onSubmit, TextField, useSubmit } from "../../ui/kit";

export type Plan = Schemas["ResearchPlan"];

// The API's bound on one query (PlanApproval); the count is bounded by the mode's branches per wave.
const MAX_QUERY_CHARS = 400;

export function PlanReview({ jobId, plan, maxQueries }: { jobId: string; plan: Plan; maxQueries?: number }) {
  const [queries, setQueries] = useState<string[]>(plan.queries);
  const [approved, setApproved] = useState(false);
  const most = maxQueries ?? Math.max(plan.queries.length, 1);
  const approve = useSubmit(async () => {
    await unwrap(
      api.POST("/api/playground/research/{id}/plan", {
        params: { path: { id: jobId } },
        body: { queries: queries.map((q) => q.trim()) },
      }),
    );
    setApproved(true);
  });
  const edit = (i: number, text: string) => setQueries((qs) => qs.map((q, k) => (k === i ? text : q)));
  const remove = (i: number) => setQueries((qs) => qs.filter((_, k) => k !== i));
  const blank = queries.some((q) => !q.trim());
  const subQuestions = plan.sub_questions ?? [];

  return (
    <Card title="Review the plan" className="plan-review">
      {approved ? (
        <Alert kind="success">Plan approved: the job searches your queries now.</Alert>
      ) : (
        <form onSubmit={onSubmit(() => void approve.run())} noValidate aria-label="Review the plan">
          <p className="muted small">
            The job waits for you before it searches. Edit, remove or add queries (up to {most}, none empty), then approve.
            {plan.expires_at ? ` Unapproved, it is canceled at ${fmt.when(plan.expires_at)} and nothing is charged.` : ""}
          </p>
          {subQuestions.length > 0 && (
            <>
              <h3 className="h3">Sub-questions</h3>
              <ol className="plan-sub-questions">
                {subQuestions.map((q, i) => (
                  <li key={i}>{q}</li>
                ))}
              </ol>
            </>
          )}
          <h3 className="h3">Queries to search</h3>
          <ol className="plan-queries">
            {queries.map((q, i) => (
              <li key={i}>
                <TextField label={`Query ${i + 1}`} value={q} maxLength={MAX_QUERY_CHARS} spellCheck={false}
                  onChange={(e) => edit(i, e.target.value)} />
                <Button small variant="ghost" onClick={() => remove(i)} disabled={queries.length <= 1} aria-label={`Remove query ${i + 1}`}>
                  Remove
                </Button>
              </li>
            ))}
          </ol>
          <FormError error={approve.error} />
          <div className="form-actions">
            <Button small onClick={() => setQueries((qs) => [...qs, ""])} disabled={queries.length >= most}>
              Add a query
            </Button>
            <Button type="submit" variant="primary" busy={approve.busy} disabled={blank || !queries.length}>
              Approve and search
            </Button>
          </div>
        </form>
      )}
    </Card>
  );
}
