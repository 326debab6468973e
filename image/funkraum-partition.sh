#!/bin/sh
# Reads and writes files on the FUNKRAUM partition of a disk image file,
# without mounting it (mtools at the partition's offset).
#
#   image/funkraum-partition.sh DISK.raw put LOCAL_FILE NAME
#   image/funkraum-partition.sh DISK.raw get NAME LOCAL_FILE
#   image/funkraum-partition.sh DISK.raw ls
set -eu
disk=$1
command=$2
start=$(sfdisk -d "$disk" | sed -n 's/.*start= *\([0-9]*\),.*name="funkraum-config".*/\1/p')
[ -n "$start" ] || { echo "no funkraum-config partition in $disk" >&2; exit 1; }
fat="$disk@@$((start * 512))"
case $command in
put) mcopy -o -i "$fat" "$3" "::/$4" ;;
get) mcopy -o -i "$fat" "::/$3" "$4" ;;
ls) mdir -b -i "$fat" ::/ ;;
*) echo "usage: $0 DISK.raw put FILE NAME | get NAME FILE | ls" >&2; exit 2 ;;
esac
