"""Colour spaces and colour difference: sRGB, linear RGB, CIELAB (D65), OKLab and ΔE2000.

Quantization measures distances in CIELAB because the quality goal is stated in ΔE2000,
which is defined on CIELAB; OKLab is kept for comparison (see ``benchmarks/``).
All functions take and return numpy arrays whose last axis holds the three channels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pixelnb.errors import OptionError

__all__ = [
    "delta_e2000",
    "from_space",
    "lab_to_rgb",
    "linear_to_srgb",
    "oklab_to_rgb",
    "rgb_to_lab",
    "rgb_to_oklab",
    "srgb_to_linear",
    "to_space",
]

FloatArray = NDArray[np.float32]

# sRGB (D65) -> XYZ, rows X, Y, Z.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = _RGB_TO_XYZ.sum(axis=1)  # D65 white of sRGB, Y = 1
_RGB_TO_XYZN_T = (_RGB_TO_XYZ / _WHITE[:, None]).T.astype(np.float32)  # XYZ / white

# OKLab (Björn Ottosson, 2020).
_OK_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OK_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)

_LUT = np.arange(256, dtype=np.float64) / 255.0
_LINEAR_LUT = np.where(_LUT <= 0.04045, _LUT / 12.92, ((_LUT + 0.055) / 1.055) ** 2.4).astype(np.float32)


def srgb_to_linear(rgb: NDArray[np.uint8] | NDArray[np.floating]) -> FloatArray:
    """sRGB (uint8 0..255, or float 0..1) to linear light in 0..1."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return _LINEAR_LUT[rgb]
    c = rgb.astype(np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(lin: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Linear light in 0..1 to sRGB uint8, clipped to the gamut."""
    c = np.clip(np.asarray(lin, dtype=np.float64), 0.0, 1.0)
    s = np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)
    return np.round(s * 255.0).astype(np.uint8)


def _f(t: FloatArray) -> FloatArray:
    # exp(log(t) / 3) in float32 is about four times as fast as np.cbrt and accurate to a
    # few units in the last place; the linear toe near black is patched where it applies.
    d = np.float32(6 / 29)
    flat = np.ascontiguousarray(t, dtype=np.float32).reshape(-1)
    out = np.log(np.maximum(flat, np.float32(1e-12)))
    out *= np.float32(1 / 3)
    np.exp(out, out=out)
    toe = np.flatnonzero(flat <= d**3)
    if len(toe):
        out[toe] = flat[toe] * np.float32(1 / (3 * d * d)) + np.float32(4 / 29)
    res: FloatArray = out.reshape(np.shape(t))
    return res


def _finv(t: NDArray[np.float64]) -> NDArray[np.float64]:
    d = 6 / 29
    return np.where(t > d, t**3, 3 * d * d * (t - 4 / 29))


def rgb_to_lab(rgb: NDArray[np.uint8] | NDArray[np.floating]) -> FloatArray:
    """sRGB to CIELAB (D65): L in 0..100, a and b roughly -128..127."""
    f = _f(np.tensordot(srgb_to_linear(rgb), _RGB_TO_XYZN_T, axes=1))
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_rgb(lab: NDArray[np.floating]) -> NDArray[np.uint8]:
    """CIELAB (D65) to sRGB uint8, clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    xyz = np.stack([_finv(fx), _finv(fy), _finv(fz)], axis=-1) * _WHITE
    return linear_to_srgb(xyz @ _XYZ_TO_RGB.T)


def rgb_to_oklab(rgb: NDArray[np.uint8] | NDArray[np.floating]) -> FloatArray:
    """sRGB to OKLab, scaled by 100 so that its distances read like CIELAB's."""
    lms = np.cbrt(srgb_to_linear(rgb) @ _OK_M1.T.astype(np.float32))
    out: FloatArray = (lms @ _OK_M2.T.astype(np.float32) * 100).astype(np.float32)
    return out


def oklab_to_rgb(lab: NDArray[np.floating]) -> NDArray[np.uint8]:
    """OKLab (scaled by 100, as :func:`rgb_to_oklab` gives it) to sRGB uint8."""
    lms = (np.asarray(lab, dtype=np.float64) / 100) @ np.linalg.inv(_OK_M2).T
    return linear_to_srgb((lms**3) @ np.linalg.inv(_OK_M1).T)


SPACES = ("lab", "oklab")


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise OptionError(f"unknown colour space {space!r}; choose one of: {', '.join(SPACES)}")


def to_space(rgb: NDArray[np.uint8] | NDArray[np.floating], space: str) -> FloatArray:
    """sRGB to the working space named ``"lab"`` or ``"oklab"`` (any other name is refused).

    >>> to_space(np.zeros(3, np.uint8), "hsv")
    Traceback (most recent call last):
    ...
    pixelnb.errors.OptionError: unknown colour space 'hsv'; choose one of: lab, oklab
    """
    _check_space(space)
    return rgb_to_lab(rgb) if space == "lab" else rgb_to_oklab(rgb)


def from_space(values: NDArray[np.floating], space: str) -> NDArray[np.uint8]:
    """The working space named ``"lab"`` or ``"oklab"`` back to sRGB uint8."""
    _check_space(space)
    return lab_to_rgb(values) if space == "lab" else oklab_to_rgb(values)


def delta_e2000(lab1: ArrayLike, lab2: ArrayLike) -> NDArray[np.float64]:
    """CIEDE2000 colour difference between two CIELAB arrays (broadcast), per pixel.

    >>> round(float(delta_e2000([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485])), 4)
    2.0425
    """
    l1, a1, b1 = (np.asarray(lab1, dtype=np.float64)[..., i] for i in range(3))
    l2, a2, b2 = (np.asarray(lab2, dtype=np.float64)[..., i] for i in range(3))
    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    cm7 = ((c1 + c2) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(cm7 / (cm7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dlp = l2 - l1
    dcp = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lpm = (l1 + l2) / 2
    cpm = (c1p + c2p) / 2
    hsum = h1p + h2p
    hpm = np.where(
        np.abs(h1p - h2p) > 180,
        np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2),
        hsum / 2,
    )
    hpm = np.where(c1p * c2p == 0, hsum, hpm)
    t = (
        1
        - 0.17 * np.cos(np.radians(hpm - 30))
        + 0.24 * np.cos(np.radians(2 * hpm))
        + 0.32 * np.cos(np.radians(3 * hpm + 6))
        - 0.20 * np.cos(np.radians(4 * hpm - 63))
    )
    d_theta = 30 * np.exp(-(((hpm - 275) / 25) ** 2))
    cpm7 = cpm**7
    rc = 2 * np.sqrt(cpm7 / (cpm7 + 25.0**7))
    sl = 1 + 0.015 * (lpm - 50) ** 2 / np.sqrt(20 + (lpm - 50) ** 2)
    sc = 1 + 0.045 * cpm
    sh = 1 + 0.015 * cpm * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    res: NDArray[np.float64] = np.sqrt(
        (dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2 + rt * (dcp / sc) * (dhp / sh)
    )
    return res
