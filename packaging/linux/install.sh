#!/bin/sh
# Add Huacaya to the desktop menu of the current user, from wherever this folder was unpacked.
# Nothing is copied: moving the folder later needs this script run again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
mkdir -p "$apps" "$icons"
cp "$here/huacaya.png" "$icons/huacaya.png"
sed "s|^Exec=huacaya|Exec=\"$here/Huacaya/huacaya\"|" "$here/org.huacaya.Huacaya.desktop" \
  > "$apps/org.huacaya.Huacaya.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" || true
echo "Huacaya is in your applications menu. Or run: \"$here/Huacaya/huacaya\""
