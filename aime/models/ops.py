"""Operational state: playlists, background services, scheduled tasks, task runs, import jobs."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdMixin, TimestampMixin, now_epoch
from .music import Track


class Playlist(IdMixin, TimestampMixin, db.Model):
    """A named, ordered list of tracks, manual or generated."""

    __tablename__ = "playlists"
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    algorithm: Mapped[str] = mapped_column(String(50), nullable=False, default="manual")
    parameters: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    entries: Mapped[list[PlaylistTrack]] = relationship(
        order_by="PlaylistTrack.position", cascade="all, delete-orphan", lazy="selectin")


class PlaylistTrack(db.Model):
    """A track at a position in a playlist."""

    __tablename__ = "playlist_tracks"
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False)
    track: Mapped[Track] = relationship(lazy="joined")


class ServiceState(db.Model):
    """Persisted state of a background service, plus the lease that makes it run exactly once."""

    __tablename__ = "service_states"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    state: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, onupdate=now_epoch, nullable=False)


class ScheduledTask(db.Model):
    """A scheduled task's cron expression and time zone (kept across restarts)."""

    __tablename__ = "scheduled_tasks"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    cron: Mapped[str] = mapped_column(String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    last_run: Mapped[int | None] = mapped_column(BigInteger)


class Setting(db.Model):
    """A small persisted key/value setting (e.g. scheduler max_files_per_type)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict | list | int | str | None] = mapped_column(JSON)


class TaskRun(IdMixin, db.Model):
    """One execution of a scheduled or triggered task."""

    __tablename__ = "task_runs"
    task: Mapped[str] = mapped_column(String(50), nullable=False)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False, default="schedule")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    started_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    output_file: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_task_runs_task_started", "task", "started_at"),)


class ImportJob(IdMixin, db.Model):
    """One import of a file: what came in, what was kept, what was skipped and why."""

    __tablename__ = "imports"
    format: Mapped[str | None] = mapped_column(String(50))
    filename: Mapped[str] = mapped_column(String(500), nullable=False)
    stored_path: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    imported: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    errors: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # Duplicates that brought more (album, length, ids) and values that disagreed with what was stored.
    enriched: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    conflicts: Mapped[list | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
