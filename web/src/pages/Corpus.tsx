// A local corpus document, as the research pipeline stored and quoted it, with the cited quote
// highlighted: where `corpus://` citation links lead (`/corpus?path=...&quote=...`).
import { useEffect, useRef } from "react";
import { api, unwrap } from "../api/client";
import { useLocation } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { Card, Empty, ErrorState, Loading, PageHeader } from "../ui/kit";

/** A stored text with the cited quote (an exact slice of it) marked and scrolled into view. */
export function QuotedText({ text, quote }: { text: string; quote: string }) {
  const mark = useRef<HTMLElement>(null);
  useEffect(() => mark.current?.scrollIntoView({ block: "center" }), [text, quote]);
  const at = quote ? text.indexOf(quote) : -1;
  return (
    <pre className="corpus-text">
      {at < 0 ? text : (
        <>
          {text.slice(0, at)}
          <mark ref={mark}>{quote}</mark>
          {text.slice(at + quote.length)}
        </>
      )}
    </pre>
  );
}

export function CorpusPage() {
  const { query } = useLocation();
  const path = query.get("path") ?? "";
  const quote = query.get("quote") ?? "";
  const doc = useAsync(() => unwrap(api.GET("/api/corpus/{path}", { params: { path: { path } } })), [path]);
  if (!path) return <Empty title="No document">Follow a corpus citation from a research result.</Empty>;
  if (doc.loading) return <Loading />;
  if (doc.error) return <ErrorState error={doc.error} />;
  if (!doc.data) return <Loading />;
  return (
    <>
      <PageHeader title={doc.data.title} description={doc.data.url} />
      <Card>
        <QuotedText text={doc.data.text} quote={quote} />
      </Card>
    </>
  );
}
