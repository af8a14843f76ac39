#!/usr/bin/env bash
# Makes the example clips in this folder from nothing: speech from espeak-ng, music from sox's synthesizer.
#   sudo apt-get install espeak-ng sox        (Debian/Ubuntu)
#   bash examples/make_clips.sh
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Speech: two voices, 22.05 kHz mono from espeak-ng, kept as FLAC.
espeak-ng -v en-us -s 150 -w "$tmp/a.wav" \
  "The quick brown fox jumps over the lazy dog. Neural audio codecs turn sound into a few tokens per second."
espeak-ng -v en-gb+f3 -s 140 -w "$tmp/b.wav" "Multi scale codes keep the coarse structure and the fine detail apart."
sox "$tmp/a.wav" "$tmp/b.wav" speech.flac

# Music: a plucked arpeggio over a held chord, stereo, 44.1 kHz.
notes=(0 4 7 12 7 4 0 -5 -1 2 7 11 7 2 -1 -5)
parts=()
for i in "${!notes[@]}"; do
  sox -n -r 44100 -c 1 "$tmp/n$i.wav" synth 0.25 pluck "%${notes[$i]}" vol 0.6
  parts+=("$tmp/n$i.wav")
done
sox "${parts[@]}" "$tmp/melody.wav"
sox -n -r 44100 -c 1 "$tmp/pad.wav" synth 4 sine %-12 sine %-5 sine %0 fade 0.5 4 1 vol 0.15
sox -M "$tmp/melody.wav" "$tmp/pad.wav" -c 2 music.flac remix 1,2v0.6 1v0.6,2 norm -3

# Speech at telephone quality, 8 kHz, as 16-bit WAV.
sox speech.flac -r 8000 -b 16 phone.wav
soxi speech.flac music.flac phone.wav | grep -E "^(Input File|Channels|Sample Rate|Duration)"
