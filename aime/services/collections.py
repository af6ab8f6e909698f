"""Named collections of albums: by hand (albums added with a reason) or by a query evaluated live."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..config import Config
from ..database import run_write
from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import Album, AlbumCollection, AlbumCollectionItem
from . import collection_queries, collection_wish
from .collection_queries import CRITERIA
from .sql_lists import one_of


def list_collections(config: Config) -> list[dict]:
    """Every collection, by name, with how many albums it holds now."""
    rows = db.session.scalars(select(AlbumCollection).order_by(func.lower(AlbumCollection.name),
                                                               AlbumCollection.id)).all()
    return [{**_summary(row), "album_count": len(_albums(config, row))} for row in rows]


def get_collection(config: Config, collection_id: int) -> dict:
    """One collection with its albums and the reason each is in it."""
    row = _get(collection_id)
    albums = _albums(config, row)
    return {**_summary(row), "album_count": len(albums), "albums": albums}


def create_collection(config: Config, data: dict) -> dict:
    """Create a manual collection (optionally with albums) or a query one (a query, or a wish the AI turns into one)."""
    if data.get("wish"):
        data = {**data, "query": collection_wish.wish_to_query(config, data["wish"])}
    if data.get("query") is not None:
        _check_query(data["query"])
        if data.get("album_ids"):
            raise InvalidInput("A query collection takes no album_ids: its albums come from its query.",
                               errors={"album_ids": ["Not allowed with a query or a wish."]})
    collection_id = run_write(_create, data)
    return get_collection(config, collection_id)


def _create(data: dict) -> int:
    kind = "query" if data.get("query") is not None else "manual"
    row = AlbumCollection(name=data["name"].strip(), description=data.get("description"), kind=kind,
                          query=data.get("query") or {}, wish=data.get("wish"))
    db.session.add(row)
    db.session.flush()
    if data.get("album_ids"):
        _add(row, data["album_ids"], data.get("reason"))
    return row.id


def update_collection(config: Config, collection_id: int, data: dict) -> dict:
    """Rename, re-describe, or (query collections) change the query."""
    if data.get("query") is not None:
        _check_query(data["query"])
    run_write(_update, collection_id, data)
    return get_collection(config, collection_id)


def _update(collection_id: int, data: dict) -> None:
    row = _get(collection_id)
    if "query" in data:
        if row.kind != "query":
            raise Conflict("This collection is made by hand: add or remove albums instead of giving a query.")
        row.query = data["query"]
    if "name" in data:
        row.name = data["name"].strip()
    if "description" in data:
        row.description = data["description"]


def delete_collection(collection_id: int) -> None:
    """Delete a collection (the albums stay in the library)."""
    run_write(lambda: db.session.delete(_get(collection_id)))


def add_albums(config: Config, collection_id: int, album_ids: list[int], reason: str | None = None) -> dict:
    """Put albums into a manual collection (ones already in keep their place and reason)."""
    run_write(lambda: _add(_get(collection_id), album_ids, reason))
    return get_collection(config, collection_id)


def remove_album(config: Config, collection_id: int, album_id: int) -> dict:
    """Take an album out of a manual collection."""
    def _remove():
        row = _get(collection_id)
        item = db.session.get(AlbumCollectionItem, (row.id, album_id))
        if item is None:
            raise NotFound(f"Album {album_id} is not in collection {collection_id}.")
        db.session.delete(item)

    run_write(_remove)
    return get_collection(config, collection_id)


def _add(row: AlbumCollection, album_ids: list[int], reason: str | None) -> None:
    if row.kind != "manual":
        raise Conflict("This collection's albums come from its query; change the query instead.")
    wanted = list(dict.fromkeys(album_ids))
    known = set(db.session.scalars(select(Album.id).where(one_of(Album.id, wanted))))
    missing = [i for i in wanted if i not in known]
    if missing:
        raise NotFound(f"No album with id {', '.join(map(str, missing))}.")
    present = set(db.session.scalars(select(AlbumCollectionItem.album_id)
                                     .where(AlbumCollectionItem.collection_id == row.id)))
    position = db.session.scalar(select(func.max(AlbumCollectionItem.position))
                                 .where(AlbumCollectionItem.collection_id == row.id)) or 0
    for album_id in wanted:
        if album_id not in present:
            position += 1
            db.session.add(AlbumCollectionItem(collection_id=row.id, album_id=album_id, position=position,
                                               reason=reason))
    db.session.flush()


def _check_query(query: dict) -> None:
    if not any(query.get(key) not in (None, "") for key in CRITERIA):
        raise InvalidInput("A query needs at least one of: " + ", ".join(CRITERIA) + ".",
                           errors={"query": ["Give at least one criterion."]})
    low, high = query.get("year_from"), query.get("year_to")
    if low is not None and high is not None and low > high:
        raise InvalidInput("year_from is after year_to.", errors={"query": ["year_from is after year_to."]})


def _get(collection_id: int) -> AlbumCollection:
    row = db.session.get(AlbumCollection, collection_id)
    if row is None:
        raise NotFound(f"Collection {collection_id} does not exist.")
    return row


def _summary(row: AlbumCollection) -> dict:
    return {"id": row.id, "name": row.name, "description": row.description, "kind": row.kind,
            "query": row.query if row.kind == "query" else None, "wish": row.wish,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _albums(config: Config, row: AlbumCollection) -> list[dict]:
    if row.kind == "query":
        return collection_queries.run_query(config, row.query)
    items = db.session.execute(select(AlbumCollectionItem, Album).join(Album, Album.id == AlbumCollectionItem.album_id)
                               .where(AlbumCollectionItem.collection_id == row.id).options(lazyload(Album.tracks))
                               .order_by(AlbumCollectionItem.position)).all()
    plays = collection_queries.album_plays([album for _, album in items])
    return [{**collection_queries.album_item(album, *plays.get(album.id, (0, None))),
             "reason": item.reason or "added by hand"} for item, album in items]
