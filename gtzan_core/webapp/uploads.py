"""Decoding what a visitor hands the Predict page (an upload, a recording, a demo clip):
one decode at a time per server process (:func:`gtzan_core.audio.decoding_turn`), so
uploads arriving together, hostile ones included, cost one decode's memory and CPU at a
time instead of one each; a visitor whose upload waits for another's sees a spinner
saying so."""

from __future__ import annotations

import io

import streamlit as st

from ..audio import MAX_DECODE_SECONDS, DecodedAudio, decode_audio, decoding_turn

#: What a visitor whose upload waits for the decoding turn sees.
WAITING = "Waiting for another upload to finish decoding…"


def decode_upload(data: bytes, name: str, max_seconds: float = MAX_DECODE_SECONDS) -> DecodedAudio:
    """``data`` (a file called ``name``) decoded in the server's one decoding turn:
    bounded as every decode is (:func:`gtzan_core.audio.decode_audio`), and never two at
    once. Raises :class:`~gtzan_core.errors.AudioError` with the one-line reason."""
    blob = io.BytesIO(data)
    blob.name = name
    with decoding_turn(waiting=lambda: st.spinner(WAITING)):
        return decode_audio(blob, max_seconds=max_seconds)
