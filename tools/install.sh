#!/bin/sh
# install.sh -- how `make install` puts one file in place and `make
# uninstall` takes it away (the Makefile says which files, and where).
#
#   install.sh file MODE SRC DEST
#       SRC as DEST, always as a new file (a new inode): written under a
#       temporary name in DEST's directory, then renamed over DEST.  A
#       running httpd keeps the file it mapped; writing into a loaded
#       module or handler instead would crash every child that maps it.
#   install.sh conffile MODE SRC DEST SHIPPED
#       A configuration file the admin may edit (what dpkg calls a
#       conffile).  SHIPPED is the copy of what the previous install
#       shipped.  DEST is placed when it is new or unedited (the same as
#       SHIPPED); an edited DEST is kept, and when SRC differs from
#       SHIPPED (this version ships something new) SRC goes beside it as
#       DEST.dist (as dpkg leaves .dpkg-dist) and one line says so; so
#       does a DEST deleted since an earlier install (dpkg does not bring
#       back a deleted conffile either).  SRC then becomes SHIPPED.
#   install.sh rmfile DEST
#       DEST removed.
#   install.sh rmconffile DEST SHIPPED SRC
#       DEST removed if unedited (the same as SHIPPED, or as SRC when
#       there is no SHIPPED copy), else kept with one line saying so (as
#       dpkg's remove keeps conffiles; deleting it is the purge);
#       DEST.dist and SHIPPED removed.
#   install.sh rmdir DIR
#       DIR removed if empty, else kept with one line naming what is in it.
#
# Paths are printed as given (with DESTDIR, if any).
set -eu

say() {
    printf '%s\n' "$*"
}

# put MODE SRC DEST: the new-inode install.
put() {
    dir=$(dirname "$3")
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.$(basename "$3").XXXXXX")
    if cp "$2" "$tmp" && chmod "$1" "$tmp" && mv -f "$tmp" "$3"; then
        return 0
    fi
    rm -f "$tmp"
    say "install.sh: cannot install $3" >&2
    exit 1
}

# same A B: both exist with the same bytes.
same() {
    [ -f "$1" ] && [ -f "$2" ] && cmp -s "$1" "$2"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
file)
    [ $# -eq 3 ] || { say "usage: install.sh file MODE SRC DEST" >&2; exit 2; }
    put "$1" "$2" "$3"
    say "  $3"
    ;;
conffile)
    [ $# -eq 4 ] || {
        say "usage: install.sh conffile MODE SRC DEST SHIPPED" >&2; exit 2; }
    mode=$1 src=$2 dest=$3 shipped=$4
    if [ ! -e "$dest" ] && same "$src" "$shipped"; then
        # Deleted since an install of this same file: nothing new to say.
        say "  $dest (deleted after an earlier install: left absent)"
    elif [ ! -e "$dest" ] && [ -f "$shipped" ]; then
        # Installed before, deleted since: the admin's choice stands.
        put "$mode" "$src" "$dest.dist"
        say "make install: left $dest absent: it was deleted after an" \
            "earlier install; this version's is $dest.dist (rename it to" \
            "$(basename "$dest") to use it)"
    elif [ ! -e "$dest" ] || same "$dest" "$shipped"; then
        if same "$dest" "$src"; then
            say "  $dest (unchanged)"
        else
            put "$mode" "$src" "$dest"
            say "  $dest"
        fi
        # A .dist left by an earlier install is stale once DEST is ours.
        rm -f "$dest.dist"
    elif same "$dest" "$src"; then
        # Edited into what this version ships (merged by hand).
        say "  $dest (unchanged)"
        rm -f "$dest.dist"
    elif same "$src" "$shipped"; then
        # Edited, and this version ships what the last one did: nothing
        # to merge (as dpkg keeps an edited conffile the package did not
        # change, silently).
        say "  $dest (edited: kept; this version ships the same)"
    else
        put "$mode" "$src" "$dest.dist"
        say "make install: kept $dest: it was edited; this version's is" \
            "$dest.dist (merge what you need into yours, then delete it)"
    fi
    put 644 "$src" "$shipped"
    say "  $shipped (the shipped version)"
    ;;
rmfile)
    [ $# -eq 1 ] || { say "usage: install.sh rmfile DEST" >&2; exit 2; }
    if [ -e "$1" ] || [ -L "$1" ]; then
        rm -f "$1"
        say "  removed $1"
    fi
    ;;
rmconffile)
    [ $# -eq 3 ] || {
        say "usage: install.sh rmconffile DEST SHIPPED SRC" >&2; exit 2; }
    dest=$1 shipped=$2 src=$3
    if [ -f "$shipped" ]; then
        ref=$shipped
    else
        ref=$src
    fi
    if [ -e "$dest" ] || [ -L "$dest" ]; then
        if same "$dest" "$ref"; then
            rm -f "$dest"
            say "  removed $dest"
        else
            say "make uninstall: kept $dest: it was edited (delete it" \
                "yourself to remove every trace)"
        fi
    fi
    for f in "$dest.dist" "$shipped"; do
        if [ -e "$f" ]; then
            rm -f "$f"
            say "  removed $f"
        fi
    done
    ;;
rmdir)
    [ $# -eq 1 ] || { say "usage: install.sh rmdir DIR" >&2; exit 2; }
    [ -d "$1" ] || exit 0
    if rmdir "$1" 2>/dev/null; then
        say "  removed $1/"
    else
        say "make uninstall: kept $1/: it holds files make install did" \
            "not put there:" $(ls -A "$1")
    fi
    ;;
*)
    say "usage: install.sh file|conffile|rmfile|rmconffile|rmdir ..." >&2
    exit 2
    ;;
esac
