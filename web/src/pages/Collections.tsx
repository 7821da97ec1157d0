// Collections: the account's own documents, for research to search and cite as
// `collection://<collection>/<document>`. Create and delete collections; upload files by drag
// and drop or a file picker (with progress), watch them get indexed, read the text quotes come from.
import { type DragEvent, useEffect, useRef, useState } from "react";
import { api, type ApiError, type Schemas, unwrap } from "../api/client";
import * as fmt from "../lib/format";
import { Link, navigate, setQuery, useLocation } from "../lib/router";
import { uploadDocument } from "../lib/upload";
import { useAsync } from "../lib/useAsync";
import { Alert, Async, Badge, Button, Card, ConfirmButton, Empty, FormError, onSubmit, PageHeader, Pager, Table, TextField, useSubmit } from "../ui/kit";
import { QuotedText } from "./Corpus";

const PAGE = 50;
// The documented defaults (README: INFRENCE_COLLECTION_MAX_*); the server enforces its own values.
const LIMITS = "PDF, HTML, Markdown, plain text or DOCX · up to 20 MB per file · PDFs up to 1,000 pages · 500 documents and 500 MB per account.";
const ACCEPT = ".pdf,.html,.htm,.md,.markdown,.txt,.text,.docx";

type Document = Schemas["DocumentDto"];

const offsetOf = (query: URLSearchParams) => Math.max(0, Number(query.get("offset")) || 0);

export function CollectionsPage() {
  const { query } = useLocation();
  const offset = offsetOf(query);
  const collections = useAsync(() => unwrap(api.GET("/api/collections", { params: { query: { limit: PAGE, offset } } })), [offset]);
  const [name, setName] = useState("");
  const create = useSubmit(async () => {
    const created = await unwrap(api.POST("/api/collections", { body: { name } }));
    navigate(`/collections/${created.id}`);
  });

  return (
    <>
      <PageHeader
        title="Collections"
        description={<>Your own documents for research to search and cite. Name a collection in the playground, or pass <code>collections</code> to <code>/v1/research</code>.</>}
      />
      <Card title="Create a collection">
        <form className="inline-form" onSubmit={onSubmit(() => void create.run())} noValidate>
          <TextField label="Name" placeholder="Contracts 2025" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} error={create.fields.name} />
          <Button type="submit" variant="primary" busy={create.busy} disabled={!name.trim()}>
            Create collection
          </Button>
        </form>
        <FormError error={create.error} />
      </Card>
      <Card title="Your collections">
        <Async state={collections}>
          {(rows) =>
            rows.length || offset ? (
              <>
                <Table caption="Collections">
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th className="num">Documents</th>
                      <th>Created</th>
                      <th><span className="sr-only">Actions</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((c) => (
                      <tr key={c.id}>
                        <td><Link href={`/collections/${c.id}`}>{c.name}</Link></td>
                        <td className="num">{fmt.count(c.documents)}</td>
                        <td title={fmt.when(c.created_at)}>{fmt.ago(c.created_at)}</td>
                        <td className="actions">
                          <ConfirmButton label="Delete" question="Delete it and its documents?" name={c.name}
                            onConfirm={async () => {
                              await unwrap(api.DELETE("/api/collections/{collection_id}", { params: { path: { collection_id: c.id } } }));
                              collections.reload();
                            }} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
                <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={(o) => setQuery({ offset: o || null })} />
              </>
            ) : (
              <Empty title="No collections yet">Create one above, then upload the files research should read.</Empty>
            )
          }
        </Async>
      </Card>
    </>
  );
}

type Upload = { key: number; name: string; sent: number; total: number; error?: ApiError; abort: () => void };

/** Files on their way up: a progress bar each, a cancel button, and the server's refusal (413, 400). */
function Uploads({ uploads, onDismiss }: { uploads: Upload[]; onDismiss: (key: number) => void }) {
  if (!uploads.length) return null;
  return (
    <ul className="uploads" aria-label="Uploads">
      {uploads.map((u) => (
        <li key={u.key} className={u.error ? "upload upload-failed" : "upload"}>
          <span className="upload-name">{u.name}</span>
          {u.error ? (
            <>
              <span className="field-error" role="alert">{u.error.message}</span>
              <Button small variant="ghost" onClick={() => onDismiss(u.key)} aria-label={`Dismiss ${u.name}`}>
                Dismiss
              </Button>
            </>
          ) : (
            <>
              <progress max={u.total || 1} value={u.sent} aria-label={`Uploading ${u.name}`} />
              <span className="muted small num">{u.sent >= u.total ? "Processing…" : `${fmt.bytes(u.sent)} of ${fmt.bytes(u.total)}`}</span>
              <Button small variant="ghost" onClick={u.abort} aria-label={`Cancel uploading ${u.name}`}>
                Cancel
              </Button>
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The drop target, with a file picker for keyboards and for people who prefer it. */
function DropZone({ onFiles }: { onFiles: (files: File[]) => void }) {
  const picker = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const accept = (event: DragEvent) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    setOver(true);
  };
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    onFiles([...event.dataTransfer.files]);
  };
  return (
    <div className={`dropzone ${over ? "dropzone-over" : ""}`} data-testid="dropzone" onDragEnter={accept} onDragOver={accept} onDragLeave={() => setOver(false)} onDrop={drop}>
      <p className="dropzone-title">Drop files here to upload</p>
      <p className="muted small">{LIMITS}</p>
      <Button small onClick={() => picker.current?.click()}>
        Choose files…
      </Button>
      <input ref={picker} type="file" multiple accept={ACCEPT} className="sr-only" tabIndex={-1} aria-label="Choose files to upload"
        onChange={(e) => {
          onFiles([...(e.target.files ?? [])]);
          e.target.value = "";
        }} />
    </div>
  );
}

function DocumentRow({ doc, onDeleted }: { doc: Document; onDeleted: () => void }) {
  const href = `/collections/${doc.collection_id}/documents/${doc.id}`;
  return (
    <tr>
      <td className="truncate">
        {doc.status === "ready" ? <Link href={href} title="Read the extracted text">{doc.filename}</Link> : doc.filename}
      </td>
      <td>
        <Badge status={doc.status} />
        {doc.status === "failed" && doc.error && <p className="field-error">{doc.error}</p>}
      </td>
      <td className="num">{fmt.bytes(doc.size_bytes)}</td>
      <td title={fmt.when(doc.created_at)} className="wide-only">{fmt.ago(doc.created_at)}</td>
      <td className="actions">
        <ConfirmButton label="Delete" question="Research will no longer cite it." name={doc.filename}
          onConfirm={async () => {
            await unwrap(api.DELETE("/api/collections/{collection_id}/documents/{document_id}", { params: { path: { collection_id: doc.collection_id, document_id: doc.id } } }));
            onDeleted();
          }} />
      </td>
    </tr>
  );
}

/** Read again every second while a document is being indexed, so its status settles on screen. */
function usePollWhile(active: boolean, reload: () => void) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, 1000);
    return () => clearInterval(timer);
  }, [active, reload]);
}

export function CollectionPage({ params }: { params: Record<string, string> }) {
  const id = params.id;
  const { query } = useLocation();
  const offset = offsetOf(query);
  const path = { params: { path: { collection_id: id } } };
  const collection = useAsync(() => unwrap(api.GET("/api/collections/{collection_id}", path)), [id]);
  const documents = useAsync(
    () => unwrap(api.GET("/api/collections/{collection_id}/documents", { params: { path: { collection_id: id }, query: { limit: PAGE, offset } } })),
    [id, offset],
  );
  const [uploads, setUploads] = useState<Upload[]>([]);
  const nextKey = useRef(0);
  const { reload: reloadDocuments } = documents;
  const { reload: reloadCollection } = collection;
  usePollWhile(!!documents.data?.some((d) => d.status === "processing"), reloadDocuments);
  const changed = () => {
    reloadDocuments();
    reloadCollection();
  };

  const patch = (key: number, change: Partial<Upload>) => setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));
  const remove = (key: number) => setUploads((all) => all.filter((u) => u.key !== key));
  const upload = (files: File[]) => {
    for (const file of files) {
      const key = ++nextKey.current;
      const sending = uploadDocument(id, file, (sent, total) => patch(key, { sent, total }));
      setUploads((all) => [...all, { key, name: file.name, sent: 0, total: file.size, abort: sending.abort }]);
      sending.done.then(
        () => {
          remove(key);
          changed();
        },
        (error: ApiError) => (error.code === "aborted" ? remove(key) : patch(key, { error })),
      );
    }
  };

  return (
    <>
      <p className="breadcrumb"><Link href="/collections">← Collections</Link></p>
      <Async state={collection}>
        {(c) => (
          <PageHeader
            title={c.name}
            description={<>{fmt.count(c.documents)} document{c.documents === 1 ? "" : "s"} · id <code>{c.id}</code></>}
            actions={
              <ConfirmButton label="Delete collection" question="Delete it and all its documents?" name={c.name}
                onConfirm={async () => {
                  await unwrap(api.DELETE("/api/collections/{collection_id}", path));
                  navigate("/collections");
                }} />
            }
          />
        )}
      </Async>
      <Card title="Upload">
        <DropZone onFiles={upload} />
        <Uploads uploads={uploads} onDismiss={remove} />
      </Card>
      <Card title="Documents">
        <Async state={documents}>
          {(rows) =>
            rows.length || offset ? (
              <>
                <Table caption="Documents">
                  <thead>
                    <tr>
                      <th>File</th>
                      <th>Status</th>
                      <th className="num">Size</th>
                      <th className="wide-only">Uploaded</th>
                      <th><span className="sr-only">Actions</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((doc) => (
                      <DocumentRow key={doc.id} doc={doc} onDeleted={changed} />
                    ))}
                  </tbody>
                </Table>
                <Pager offset={offset} limit={PAGE} shown={rows.length} onChange={(o) => setQuery({ offset: o || null })} />
              </>
            ) : (
              <Empty title="No documents yet">Drop files above. Each is indexed in the background, then research can cite it.</Empty>
            )
          }
        </Async>
      </Card>
    </>
  );
}

/** One document's extracted text: what research quotes from, and where `collection://` citations lead. */
export function CollectionDocumentPage({ params }: { params: Record<string, string> }) {
  const { query } = useLocation();
  const quote = query.get("quote") ?? "";
  const doc = useAsync(
    () => unwrap(api.GET("/api/collections/{collection_id}/documents/{document_id}", { params: { path: { collection_id: params.id, document_id: params.doc } } })),
    [params.id, params.doc],
  );
  usePollWhile(doc.data?.status === "processing", doc.reload);
  return (
    <>
      <p className="breadcrumb"><Link href={`/collections/${params.id}`}>← Collection</Link></p>
      <Async state={doc}>
        {(d) => (
          <>
            <PageHeader
              title={d.filename}
              description={<>Cited as <code>{d.source_id}</code>{d.url && <> · <a href={d.url} target="_blank" rel="noopener noreferrer">{d.url}</a></>}</>}
              actions={<Badge status={d.status} />}
            />
            {d.status === "failed" && <Alert kind="error" title="This file could not be read">{d.error}</Alert>}
            <Card title="Extracted text">
              <p className="muted small">
                {fmt.bytes(d.size_bytes)} · uploaded {fmt.when(d.created_at)}
                {d.published_date && ` · published ${d.published_date}`}
              </p>
              {d.text ? (
                <QuotedText text={d.text} quote={quote} />
              ) : (
                <Empty title={d.status === "processing" ? "Still indexing…" : "No text"}>
                  {d.status === "processing" ? "The text appears here once the document is ready." : "Nothing could be extracted from this file."}
                </Empty>
              )}
            </Card>
          </>
        )}
      </Async>
    </>
  );
}
