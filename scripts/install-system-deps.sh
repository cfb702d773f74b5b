#!/usr/bin/env bash
# Installs the Debian packages sceneseek needs at run and test time:
# ffmpeg (decoding, test media), espeak-ng (narration for test media),
# tesseract (OCR), fonts for burned-in captions, Apertium and its pairs into English
# (translated queries and keyword text; sceneseek/language, `language.pairs`).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
{ command -v chromium && command -v chromedriver; } >/dev/null || need+=(chromium chromium-driver)
command -v apertium >/dev/null || need+=(apertium)
# one package per pair in LanguageConfig.pairs; eng-spa also reads English for detection
for pair in eng-spa eng-cat en-gl eo-en eu-en hbs-eng isl-eng mkd-eng; do
  [ -d "/usr/share/apertium/apertium-$pair" ] || need+=("apertium-$pair")
done
command -v ip >/dev/null || need+=(iproute2)  # network namespace for the Milvus server tests
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Test media come from Debian packages via `apt-get download`, which needs package lists.
if [ ${#need[@]} -eq 0 ] && ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then exit 0; fi
$SUDO apt-get update -qq
[ ${#need[@]} -eq 0 ] && exit 0
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
