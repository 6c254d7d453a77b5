"""Test helpers that ship with pixelnb: a loopback fake of the Dream Machine API."""

from pixelnb.testing.fake_luma import FakeLuma

__all__ = ["FakeLuma"]
