"""Matching: same artist and title after normalisation; year, then track count, break ties; otherwise ambiguous."""
from __future__ import annotations

import pytest

from aime.services.matching import Candidate, artist_key, choose, title_key


@pytest.mark.parametrize("title, key", [
    ("OK Computer (Remastered)", "ok computer"), ("Abbey Road (Remastered 2009)", "abbey road"),
    ("Rumours [Deluxe Edition]", "rumours"), ("Hunky Dory - 2015 Remaster", "hunky dory"),
    ("Homogenic (2)", "homogenic"), ("(What's the Story) Morning Glory?", "what s the story morning glory"),
    ("Vespertine", "vespertine"), ("1999", "1999")])
def test_title_keys_drop_decorations_but_keep_the_title(title, key):
    assert title_key(title) == key


def test_artist_keys_fold_suffixes_articles_accents_and_ampersands():
    assert artist_key("Björk (2)") == artist_key("bjork") == "bjork"
    assert artist_key("The Beatles") == artist_key("Beatles")
    assert artist_key("Simon & Garfunkel") == artist_key("Simon and Garfunkel")


def cand(ref, title="Homogenic", artist="Björk", year=None, tracks=None):
    return Candidate(ref=ref, artist=artist, title=title, year=year, track_count=tracks)


def test_one_exact_candidate_wins_and_others_do_not_count():
    result = choose("Björk", "Homogenic", None, None,
                    [cand("a", title="Homogenic (Deluxe Edition)"), cand("b", title="Homogenic Live"),
                     cand("c", artist="Bjork Tribute Band")])
    assert result.chosen.ref == "a" and not result.is_ambiguous


def test_two_fits_without_a_tie_breaker_are_reported_not_guessed():
    result = choose("Björk", "Homogenic", None, None, [cand("a", year=1997), cand("b", year=2002)])
    assert result.chosen is None and [c.ref for c in result.ambiguous] == ["a", "b"]


def test_year_then_track_count_break_ties():
    two = [cand("a", year=1997, tracks=10), cand("b", year=2002, tracks=10), cand("c", year=1997, tracks=12)]
    assert choose("Björk", "Homogenic", 1997, None, two).is_ambiguous
    assert choose("Björk", "Homogenic", 1997, 12, two).chosen.ref == "c"
    assert choose("Björk", "Homogenic", 2002, None, two).chosen.ref == "b"
    # a known year that no candidate has does not discard them all
    assert [c.ref for c in choose("Björk", "Homogenic", 1980, None, two).ambiguous] == ["a", "b", "c"]


def test_nothing_alike_is_no_match():
    result = choose("Björk", "Homogenic", None, None, [cand("a", title="Post")])
    assert result.chosen is None and not result.is_ambiguous
