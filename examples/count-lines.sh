#!/bin/sh
# count-lines.sh -- an example program for wsd's exec app: every line a
# client sends comes back numbered. printf writes each line at once
# (a shell does not buffer its output), so no flushing is needed.
#
#   [route /count]
#   app = exec
#   command = /bin/sh /usr/local/share/wsd/examples/count-lines.sh
n=0
while IFS= read -r line; do
	n=$((n + 1))
	printf '%d: %s\n' "$n" "$line"
done
