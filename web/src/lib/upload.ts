// Uploads a document to a collection with XMLHttpRequest: fetch reports no upload progress
// (Chromium streams request bodies only over HTTP/2), and a 20 MB file deserves a progress bar.
import { ApiError, type Schemas, session, toApiError } from "../api/client";

export type UploadedDocument = Schemas["DocumentDto"];

export type Upload = {
  /** The stored document (still `processing`: it is indexed in the background). */
  done: Promise<UploadedDocument>;
  abort: () => void;
};

/** POST the file as multipart `file`, reporting bytes sent; one token refresh on 401, as the
 * API client does for every other call. */
export function uploadDocument(collectionId: string, file: File, onProgress: (sent: number, total: number) => void): Upload {
  let current: XMLHttpRequest | null = null;
  let aborted = false;

  const send = () =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      current = xhr;
      xhr.open("POST", `/api/collections/${encodeURIComponent(collectionId)}/documents`);
      if (session.token) xhr.setRequestHeader("Authorization", `Bearer ${session.token}`);
      xhr.responseType = "json";
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
      xhr.onload = () => resolve({ status: xhr.status, body: xhr.response });
      xhr.onerror = () => reject(new ApiError(0, "network_error", "The upload was interrupted. Check your connection and retry."));
      xhr.onabort = () => reject(new ApiError(0, "aborted", "Upload canceled."));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });

  const done = (async () => {
    let answer = await send();
    if (answer.status === 401 && !aborted && (await session.refresh())) answer = await send();
    if (answer.status < 200 || answer.status >= 300) throw toApiError(answer.status, answer.body);
    return answer.body as UploadedDocument;
  })();

  return {
    done,
    abort: () => {
      aborted = true;
      current?.abort();
    },
  };
}
