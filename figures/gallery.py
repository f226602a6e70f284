"""Copy the figures drawn by ``make figures`` into ``docs/figures/`` as small PNGs (``make gallery``).

Every PNG in the source folder (default ``figures/out``) is downscaled to at most ``--width`` pixels
wide, reduced to a 256-colour palette (plots lose nothing visible; about 50 KB each) and written
with the same name to ``docs/figures/``, shrinking further (then keeping full colour) until it fits
``--max-bytes``. PNGs in ``docs/figures/`` that the source no
longer has are removed, so the gallery follows the figure scripts present. Fails when the source
holds no PNG or a figure script produced none of its own (run ``make figures`` first).
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _png_bytes(img: Image.Image, width: int, palette: bool) -> bytes:
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    if palette:
        img = img.convert("RGB").quantize(256)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def shrink(src: Path, dst: Path, width: int, max_bytes: int) -> int:
    """Write ``src`` to ``dst`` at most ``width`` px wide and ``max_bytes`` large; return the size."""
    img = Image.open(src)
    img.load()
    for palette in (True, False):
        w = width
        while w >= 300:
            data = _png_bytes(img, w, palette)
            if len(data) <= max_bytes:
                dst.write_bytes(data)
                return len(data)
            w = int(w * 0.85)
    raise ValueError(f"cannot fit {src} into {max_bytes} bytes")


def saved_names(script: Path) -> set[str]:
    """The PNG names a figure script passes to ``save(fig, args, NAME)`` (string literals only)."""
    names = set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "save" and len(node.args) == 3:
            arg = node.args[2]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(f"{arg.value}.png")
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "figures" / "out")
    parser.add_argument("--dst", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--width", type=int, default=1000, help="largest width in pixels")
    parser.add_argument("--max-bytes", type=int, default=300_000)
    args = parser.parse_args(argv)
    pngs = sorted(args.src.glob("*.png"))
    if not pngs:
        print(f"error: no PNG in {args.src}; run `make figures` first", file=sys.stderr)
        return 1
    missing = []
    for script in sorted((ROOT / "figures").glob("fig_*.py")):
        names = saved_names(script)
        if names and not any((args.src / n).is_file() for n in names):
            missing.append(f"{script.name} ({', '.join(sorted(names))})")
    if missing:
        print(f"error: no output in {args.src} for: {'; '.join(missing)}", file=sys.stderr)
        return 1
    args.dst.mkdir(parents=True, exist_ok=True)
    for png in pngs:
        size = shrink(png, args.dst / png.name, args.width, args.max_bytes)
        print(f"{args.dst.relative_to(ROOT) if args.dst.is_relative_to(ROOT) else args.dst}/{png.name}: {size:,} bytes")
    for old in sorted(set(args.dst.glob("*.png")) - {args.dst / p.name for p in pngs}):
        old.unlink()
        print(f"removed {old.name} (no longer drawn)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
