"""Pixel decoders: what pydicom uses for each compressed transfer syntax, and the one plugin radclass adds.

pydicom decodes compressed *Pixel Data* through decoder plugins, tried in a fixed order until one succeeds. The
default install (no GPL code; ``tests/test_licences.py``) provides:

=========================================  ==========================================================
transfer syntax                            plugins, in pydicom's order
=========================================  ==========================================================
JPEG baseline (process 1)                  gdcm (GDCM, BSD), pillow (libjpeg-turbo)
JPEG extended (process 2 and 4)            :data:`PLUGIN` (GDCM, 8 and 12 bit), then gdcm, pillow
JPEG lossless (process 14, SV1)            gdcm
JPEG-LS lossless / near-lossless           gdcm, pyjpegls (CharLS, MIT)
JPEG 2000 (lossless and lossy)             gdcm, pylibjpeg-openjpeg (MIT), pillow
HTJ2K                                      pylibjpeg-openjpeg
RLE lossless                               pylibjpeg-rle (MIT), pydicom's own decoder
=========================================  ==========================================================

pydicom's gdcm plugin refuses 12-bit JPEG extended although GDCM decodes it with its bundled 12-bit IJG codec
(the result equals dcmtk's ``dcmdjpeg`` bit for bit on pydicom's ``JPGExtended.dcm``; GDCM's 8-bit codec prints
"Unsupported JPEG data precision 12" to stderr before its 12-bit codec takes over); without the GPL
``pylibjpeg-libjpeg`` (the opt-in ``gpl-codecs`` extra) no other plugin would decode such files. :func:`register`
puts :data:`PLUGIN`, a GDCM decoder for that one transfer syntax (8 and 12 bit), first. With these plugins every
JPEG, JPEG-LS and RLE file of pydicom's test data that dcmtk decompresses decodes to dcmtk's pixels bit for bit
(``tests/test_codecs.py``).
"""

from __future__ import annotations

from typing import cast

from pydicom import uid
from pydicom.pixels.decoders.base import DecodeRunner

#: Label of the plugin :func:`register` adds to pydicom's JPEG extended decoder.
PLUGIN = "radclass-gdcm"
#: What the plugin needs (pydicom reports it when the plugin is unavailable).
DECODER_DEPENDENCIES = {uid.JPEGExtended12Bit: ("gdcm>=3.0.10",)}


def is_available(transfer_syntax: str) -> bool:
    """True when python-gdcm is importable and ``transfer_syntax`` is JPEG extended (pydicom's plugin contract)."""
    try:
        import gdcm  # noqa: F401
    except ImportError:
        return False
    return transfer_syntax in DECODER_DEPENDENCIES


def register() -> None:
    """Put :data:`PLUGIN` first in pydicom's JPEG extended decoder (idempotent; call before decoding).

    pydicom's own plugins for the syntax (gdcm, pylibjpeg, pillow) stay behind it as fallbacks: GDCM decodes
    every JPEG process whatever else is installed, the GPL libjpeg of ``gpl-codecs`` is only a last resort, and
    12-bit frames are not preceded by the logged refusals of the gdcm and pillow plugins.
    """
    from pydicom.pixels import get_decoder

    decoder = get_decoder(uid.JPEGExtended12Bit)
    if PLUGIN in decoder.available_plugins or not is_available(uid.JPEGExtended12Bit):
        return
    own = [label for label in ("gdcm", "pylibjpeg", "pillow") if label in decoder.available_plugins]
    for label in own:
        decoder.remove_plugin(label)
    decoder.add_plugin(PLUGIN, (__name__, "_decode_frame"))
    for label in own:
        decoder.add_plugin(label, (f"pydicom.pixels.decoders.{label}", "_decode_frame"))


def plugins(transfer_syntax: str) -> tuple[str, ...]:
    """The decoder plugins pydicom can use for ``transfer_syntax`` here (sorted by name; pydicom tries them in
    the order of the table above)."""
    from pydicom.pixels import get_decoder

    register()
    try:
        return tuple(get_decoder(transfer_syntax).available_plugins)
    except NotImplementedError:  # uncompressed or unknown syntax: no decoder object
        return ()


def _decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    """One JPEG extended frame decoded by GDCM (pydicom's ``gdcm`` plugin without its refusal of 12-bit data)."""
    import gdcm

    if runner.transfer_syntax != uid.JPEGExtended12Bit:
        raise ValueError(f"the {PLUGIN} plugin decodes JPEG extended only, not {runner.transfer_syntax.name}")
    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(src)
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())

    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((runner.columns, runner.rows, 1))
    image.SetDataElement(element)
    pi_type = gdcm.PhotometricInterpretation.GetPIType(str(runner.photometric_interpretation))
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(pi_type))
    if runner.samples_per_pixel > 1:
        image.SetPlanarConfiguration(runner.planar_configuration)
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(str(runner.transfer_syntax))))
    bits = runner.bits_stored
    image.SetPixelFormat(
        gdcm.PixelFormat(runner.samples_per_pixel, runner.bits_allocated, bits, bits - 1, runner.pixel_representation)
    )
    frame = image.GetBuffer()
    if frame is None:
        raise ValueError("GDCM could not decode the JPEG extended frame")
    return cast(bytes, frame.encode("utf-8", "surrogateescape"))  # GDCM hands char* back as str
