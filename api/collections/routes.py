"""HTTP of collections: `/v1/collections*` with an API key, `/api/collections*` for the dashboard.
One set of handlers, mounted twice with the owner taken from each door's credentials.

No `from __future__ import annotations` here: the handlers close over a local `Owner` type,
which FastAPI must see as an object, not as a string it cannot resolve.
"""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile

from api.collections.repository import DocumentRow
from api.collections.schemas import CollectionCreate, CollectionDto, DocumentDto, DocumentWithText
from api.collections.service import CollectionService, source_id
from auth.deps import ApiKeyCaller, CurrentUser
from core.deps import DbDep, SettingsDep
from core.errors import error_responses

UPLOAD_PATH = r"^/(v1|api)/collections/[^/]+/documents$"  # the one door that takes large bodies


async def get_collections(db: DbDep, settings: SettingsDep) -> CollectionService:
    return CollectionService(db, settings)


async def api_key_owner(caller: ApiKeyCaller) -> UUID:
    return caller.user.id


async def dashboard_owner(user: CurrentUser) -> UUID:
    return user.id


Collections = Annotated[CollectionService, Depends(get_collections)]
CollectionId = Annotated[UUID, Path(description="Collection id")]
DocumentId = Annotated[UUID, Path(description="Document id")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _document(row: DocumentRow, **extra) -> dict:
    return {**row.__dict__, "source_id": source_id(row.collection_id, row.id), **extra}


def collection_router(prefix: str, owner_dependency, tag: str, operation_prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    Owner = Annotated[UUID, Depends(owner_dependency)]

    @router.post(
        "",
        response_model=CollectionDto,
        status_code=201,
        responses=error_responses(400, 401),
        operation_id=f"{operation_prefix}create_collection",
    )
    async def create_collection(body: CollectionCreate, owner: Owner, collections: Collections):
        return await collections.create(owner, body.name)

    @router.get(
        "",
        response_model=list[CollectionDto],
        responses=error_responses(400, 401),
        operation_id=f"{operation_prefix}list_collections",
    )
    async def list_collections(owner: Owner, collections: Collections, limit: Limit = 50, offset: Offset = 0):
        return await collections.list(owner, limit=limit, offset=offset)

    @router.get(
        "/{collection_id}",
        response_model=CollectionDto,
        responses=error_responses(401, 404),
        operation_id=f"{operation_prefix}get_collection",
    )
    async def get_collection(collection_id: CollectionId, owner: Owner, collections: Collections):
        return await collections.get(owner, collection_id)

    @router.delete(
        "/{collection_id}",
        status_code=204,
        responses=error_responses(401, 404),
        operation_id=f"{operation_prefix}delete_collection",
    )
    async def delete_collection(collection_id: CollectionId, owner: Owner, collections: Collections) -> None:
        await collections.delete(owner, collection_id)

    @router.post(
        "/{collection_id}/documents",
        response_model=DocumentDto,
        status_code=202,
        responses=error_responses(400, 401, 404, 413),
        operation_id=f"{operation_prefix}upload_document",
        summary="Upload a PDF, HTML, Markdown, text or DOCX file; it is indexed in the background",
    )
    async def upload_document(
        collection_id: CollectionId,
        owner: Owner,
        collections: Collections,
        settings: SettingsDep,
        file: Annotated[UploadFile, File(description="The document (at most 20 MB by default).")],
        url: Annotated[str | None, Form(max_length=2048, description="Where the document lives.")] = None,
        published_date: Annotated[date | None, Form(description="YYYY-MM-DD")] = None,
    ):
        data = await file.read(settings.collection_max_file_bytes + 1)
        document = await collections.add_document(
            owner,
            collection_id,
            filename=file.filename or "document",
            declared_type=file.content_type,
            data=data,
            url=url,
            published_date=published_date,
        )
        return _document(document)

    @router.get(
        "/{collection_id}/documents",
        response_model=list[DocumentDto],
        responses=error_responses(400, 401, 404),
        operation_id=f"{operation_prefix}list_documents",
    )
    async def list_documents(
        collection_id: CollectionId,
        owner: Owner,
        collections: Collections,
        limit: Limit = 50,
        offset: Offset = 0,
    ):
        rows = await collections.documents(owner, collection_id, limit=limit, offset=offset)
        return [_document(row) for row in rows]

    @router.get(
        "/{collection_id}/documents/{document_id}",
        response_model=DocumentWithText,
        responses=error_responses(401, 404),
        operation_id=f"{operation_prefix}get_document",
    )
    async def get_document(
        collection_id: CollectionId, document_id: DocumentId, owner: Owner, collections: Collections
    ):
        row, text = await collections.document(owner, collection_id, document_id)
        return _document(row, text=text)

    @router.delete(
        "/{collection_id}/documents/{document_id}",
        status_code=204,
        responses=error_responses(401, 404),
        operation_id=f"{operation_prefix}delete_document",
    )
    async def delete_document(
        collection_id: CollectionId, document_id: DocumentId, owner: Owner, collections: Collections
    ) -> None:
        await collections.delete_document(owner, collection_id, document_id)

    return router


router = collection_router("/v1/collections", api_key_owner, "collections", "")
dashboard = collection_router("/api/collections", dashboard_owner, "collections", "dashboard_")
