/*
 * sync-client/sync_ignore.c - see sync_ignore.h.
 *
 * Each pattern line is compiled once into a token list; a path is matched
 * by running the tokens as a small NFA over the path's bytes (a set of
 * "tokens matched so far" positions advanced one byte at a time), so the
 * cost is bounded by bytes x tokens whatever the pattern: no backtracking,
 * no recursion, nothing a hostile .cairnignore can blow up.
 */
#include "sync-client/sync_ignore.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync-client/sync_path.h"

enum ignore_tok_type {
    TOK_LIT,         /* one given byte */
    TOK_ANY,         /* '?': one byte but '/' */
    TOK_CLASS,       /* "[...]": one byte of a set (never '/') */
    TOK_STAR,        /* '*': any run of bytes without '/' */
    TOK_DSTAR_SLASH, /* leading or middle "**" + '/': "" or "x/", "x/y/" ... */
    TOK_DSTAR_ALL,   /* trailing or lone "**": any run of bytes */
};

struct ignore_tok {
    uint8_t type;  /* enum ignore_tok_type */
    uint8_t byte;  /* TOK_LIT */
    uint16_t cls;  /* TOK_CLASS: index into rule.classes */
};

struct ignore_rule {
    struct ignore_tok *tok; /* owned */
    uint8_t (*classes)[32]; /* owned: 256-bit sets */
    uint16_t ntok;
    uint16_t head;          /* leading TOK_LIT tokens */
    uint16_t tail;          /* trailing TOK_LIT tokens (== ntok if all literal) */
    uint16_t min_len;       /* tokens that take exactly one byte */
    uint8_t negate, dir_only, anchored, never;
};

struct sync_ignore {
    struct ignore_rule *rules;
    size_t n, cap;
    size_t builtin; /* the first `builtin` rules are the built-in ones */
};

/* Built-in rules, in .cairnignore syntax ('#' escaped: it starts comments). */
static const char ignore_builtin[] =
    "*~\n"
    ".*.swp\n"
    ".*.swo\n"
    ".*.swx\n"
    "*.tmp\n"
    ".~lock.*#\n"
    "~$*\n"
    ".#*\n"
    "\\#*#\n"
    ".DS_Store\n"
    "Thumbs.db\n"
    "desktop.ini\n"
    "4913\n"
    "*.part\n"
    "*.crdownload\n"
    ".cairn-sync-tmp-*\n"; /* sync_transfer.c's downloads in progress */

/* ------------------------------------------------------------------ */
/* Compiling one line                                                  */

/* Number of backslashes right before s[i]. */
static size_t backslashes_before(const char *s, size_t i)
{
    size_t k = 0;
    while (k < i && s[i - 1 - k] == '\\')
        k++;
    return k;
}

/* Length of the line without a trailing CR and unescaped trailing spaces. */
static size_t line_trim(const char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    while (n && s[n - 1] == ' ' && backslashes_before(s, n - 1) % 2 == 0)
        n--;
    return n;
}

static int class_named(uint8_t set[32], const char *name, size_t n)
{
    static const struct {
        const char *name;
        int (*is)(int);
    } named[] = {
        {"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank}, {"cntrl", iscntrl},
        {"digit", isdigit}, {"graph", isgraph}, {"lower", islower}, {"print", isprint},
        {"punct", ispunct}, {"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) != n || memcmp(named[i].name, name, n) != 0)
            continue;
        for (int c = 0; c < 128; c++) /* ASCII only, locale-independent */
            if (named[i].is(c))
                set[c >> 3] |= (uint8_t)(1u << (c & 7));
        return 0;
    }
    return -1;
}

static void set_range(uint8_t set[32], unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi && c < 256; c++)
        set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

/*
 * Parse the class starting at s[*i] == '['.  On success fills set, moves
 * *i past the closing ']' and returns 0; -1 for an unclosed or malformed
 * class (the rule then matches nothing).
 */
static int class_parse(const char *s, size_t n, size_t *i, uint8_t set[32])
{
    size_t j = *i + 1;
    int negate = 0;
    memset(set, 0, 32);
    if (j < n && (s[j] == '!' || s[j] == '^')) {
        negate = 1;
        j++;
    }
    for (int first = 1; j < n && (first || s[j] != ']'); first = 0) {
        if (s[j] == '[' && j + 1 < n && s[j + 1] == ':') {
            const char *end = memchr(s + j + 2, ':', n - (j + 2));
            if (!end || (size_t)(end - s) + 1 >= n || end[1] != ']')
                return -1;
            if (class_named(set, s + j + 2, (size_t)(end - (s + j + 2))) != 0)
                return -1;
            j = (size_t)(end - s) + 2;
            continue;
        }
        unsigned lo = (unsigned char)s[j];
        if (s[j] == '\\') {
            if (++j >= n)
                return -1;
            lo = (unsigned char)s[j];
        }
        j++;
        unsigned hi = lo;
        if (j + 1 < n && s[j] == '-' && s[j + 1] != ']') {
            j++;
            if (s[j] == '\\' && ++j >= n)
                return -1;
            hi = (unsigned char)s[j++];
        }
        set_range(set, lo, hi); /* lo > hi: an empty range, as in git */
    }
    if (j >= n)
        return -1; /* no closing ']' */
    if (negate)
        for (int k = 0; k < 32; k++)
            set[k] = (uint8_t)~set[k];
    set['/' >> 3] &= (uint8_t)~(1u << ('/' & 7));
    set[0] &= (uint8_t)~1u; /* NUL never occurs in a path */
    *i = j + 1;
    return 0;
}

/* Append a token; collapses "* *" into one star. */
static void tok_push(struct ignore_rule *r, uint8_t type, uint8_t byte, uint16_t cls)
{
    if (type == TOK_STAR && r->ntok && r->tok[r->ntok - 1].type == TOK_STAR)
        return;
    r->tok[r->ntok++] = (struct ignore_tok){.type = type, .byte = byte, .cls = cls};
}

/* Tokenize the pattern s[0..n) (prefixes '!' and '/' and the trailing '/'
 * already taken off).  r->tok and r->classes have room for n entries. */
static void rule_tokenize(struct ignore_rule *r, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !r->never) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 >= n) {
                r->never = 1; /* a lone trailing backslash */
                break;
            }
            tok_push(r, TOK_LIT, (uint8_t)s[i + 1], 0);
            i += 2;
        } else if (c == '?') {
            tok_push(r, TOK_ANY, 0, 0);
            i++;
        } else if (c == '[') {
            if (class_parse(s, n, &i, r->classes[r->ntok]) != 0) {
                r->never = 1;
                break;
            }
            tok_push(r, TOK_CLASS, 0, r->ntok);
        } else if (c == '*') {
            size_t run = 0;
            while (i + run < n && s[i + run] == '*')
                run++;
            int after_slash = i == 0 || (s[i - 1] == '/' && backslashes_before(s, i - 1) % 2 == 0);
            i += run;
            if (run >= 2 && after_slash && i == n) {
                tok_push(r, TOK_DSTAR_ALL, 0, 0);
            } else if (run >= 2 && after_slash && s[i] == '/') {
                tok_push(r, TOK_DSTAR_SLASH, 0, 0);
                i++; /* the '/' belongs to the token */
            } else {
                tok_push(r, TOK_STAR, 0, 0);
            }
        } else {
            tok_push(r, TOK_LIT, (uint8_t)c, 0);
            i++;
        }
    }
}

/* Head/tail literal runs and the minimal subject length (for the quick
 * rejects in rule_match). */
static void rule_summarize(struct ignore_rule *r)
{
    while (r->head < r->ntok && r->tok[r->head].type == TOK_LIT)
        r->head++;
    while (r->tail < r->ntok && r->tok[r->ntok - 1 - r->tail].type == TOK_LIT)
        r->tail++;
    for (uint16_t k = 0; k < r->ntok; k++) {
        uint8_t t = r->tok[k].type;
        if (t == TOK_LIT || t == TOK_ANY || t == TOK_CLASS)
            r->min_len++;
    }
}

/* Has s[0..n) an unescaped '/'? */
static int has_slash(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '/')
            return 1;
    }
    return 0;
}

/*
 * Compile line s[0..n) into r.  Returns 1 with r filled (owned
 * allocations), 0 for a line that is no rule (blank, comment, or empty
 * after '!' and '/'), or -ENOMEM.
 */
static int rule_compile(struct ignore_rule *r, const char *s, size_t n)
{
    memset(r, 0, sizeof *r);
    n = line_trim(s, n);
    if (n == 0 || s[0] == '#')
        return 0;
    if (s[0] == '!') {
        r->negate = 1;
        s++, n--;
    }
    if (n && s[n - 1] == '/' && backslashes_before(s, n - 1) % 2 == 0) {
        r->dir_only = 1;
        n--;
    }
    if (n && s[0] == '/') {
        r->anchored = 1;
        s++, n--;
    }
    if (n == 0)
        return 0;
    if (has_slash(s, n))
        r->anchored = 1;
    r->tok = calloc(n, sizeof *r->tok);
    r->classes = calloc(n, sizeof *r->classes);
    if (!r->tok || !r->classes) {
        free(r->tok);
        free(r->classes);
        return -ENOMEM;
    }
    rule_tokenize(r, s, n);
    rule_summarize(r);
    return 1;
}

static void rule_release(struct ignore_rule *r)
{
    free(r->tok);
    free(r->classes);
}

/* ------------------------------------------------------------------ */
/* Matching                                                            */

#define ST_AT 1  /* the first k tokens matched the bytes so far */
#define ST_MID 2 /* inside a TOK_DSTAR_SLASH's directory name */

static int tok_takes(const struct ignore_rule *r, const struct ignore_tok *t, uint8_t c)
{
    switch (t->type) {
    case TOK_LIT: return c == t->byte;
    case TOK_ANY: return c != '/';
    case TOK_CLASS: return (r->classes[t->cls][c >> 3] >> (c & 7)) & 1;
    }
    return 0;
}

/* Tokens that may match nothing let the state move past them for free. */
static void nfa_close(const struct ignore_rule *r, uint8_t *st)
{
    for (uint16_t k = 0; k < r->ntok; k++) {
        uint8_t t = r->tok[k].type;
        if ((st[k] & ST_AT) && (t == TOK_STAR || t == TOK_DSTAR_SLASH || t == TOK_DSTAR_ALL))
            st[k + 1] |= ST_AT;
    }
}

/* Advance cur over byte c into next; returns whether any state lives. */
static int nfa_step(const struct ignore_rule *r, const uint8_t *cur, uint8_t *next, uint8_t c)
{
    memset(next, 0, (size_t)r->ntok + 1);
    int live = 0;
    for (uint16_t k = 0; k < r->ntok; k++) {
        const struct ignore_tok *t = &r->tok[k];
        uint8_t to_k = 0, to_next = 0;
        if (cur[k] & ST_AT) {
            if (t->type == TOK_STAR)
                to_k = c != '/' ? ST_AT : 0;
            else if (t->type == TOK_DSTAR_ALL)
                to_k = ST_AT;
            else if (t->type == TOK_DSTAR_SLASH)
                to_k = c == '/' ? ST_AT : ST_MID;
            else
                to_next = tok_takes(r, t, c) ? ST_AT : 0;
        }
        if (cur[k] & ST_MID)
            to_k |= c == '/' ? ST_AT : ST_MID;
        next[k] |= to_k;
        next[k + 1] |= to_next;
        live |= to_k | to_next;
    }
    nfa_close(r, next);
    return live;
}

/* Quick rejects: subject too short, literal head or tail differs. */
static int rule_cannot_match(const struct ignore_rule *r, const uint8_t *s, size_t n)
{
    if (n < r->min_len)
        return 1;
    if (r->tail == r->ntok) /* all literal: exact compare */
        return n != r->ntok;
    for (uint16_t k = 0; k < r->head; k++)
        if (s[k] != r->tok[k].byte)
            return 1;
    for (uint16_t k = 0; k < r->tail; k++)
        if (s[n - 1 - k] != r->tok[r->ntok - 1 - k].byte)
            return 1;
    return 0;
}

static int rule_match(const struct ignore_rule *r, const char *subject, size_t n)
{
    const uint8_t *s = (const uint8_t *)subject;
    if (r->never || rule_cannot_match(r, s, n))
        return 0;
    if (r->tail == r->ntok) {
        for (uint16_t k = 0; k < r->ntok; k++)
            if (s[k] != r->tok[k].byte)
                return 0;
        return 1;
    }
    uint8_t a[SYNC_IGNORE_LINE_MAX + 1], b[SYNC_IGNORE_LINE_MAX + 1];
    uint8_t *cur = a, *next = b;
    memset(cur, 0, (size_t)r->ntok + 1);
    cur[0] = ST_AT;
    nfa_close(r, cur);
    for (size_t i = 0; i < n; i++) {
        if (!nfa_step(r, cur, next, s[i]))
            return 0;
        uint8_t *tmp = cur;
        cur = next;
        next = tmp;
    }
    return (cur[r->ntok] & ST_AT) != 0;
}

/* A component named SYNC_DAEMON_DIR anywhere in path[0..len)? */
static int is_daemon_path(const char *path, size_t len)
{
    const size_t dn = sizeof SYNC_DAEMON_DIR - 1;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        if (i - start == dn && memcmp(path + start, SYNC_DAEMON_DIR, dn) == 0)
            return 1;
        start = i + 1;
    }
    return 0;
}

/* The decision for a checked path; the last matching rule wins. */
static int ignore_decide(const struct sync_ignore *ig, const char *path, size_t len, int is_dir)
{
    if (is_daemon_path(path, len))
        return 1;
    const char *slash = memrchr(path, '/', len);
    const char *base = slash ? slash + 1 : path;
    size_t base_len = len - (size_t)(base - path);
    for (size_t i = ig->n; i-- > 0;) {
        const struct ignore_rule *r = &ig->rules[i];
        if (r->dir_only && !is_dir)
            continue;
        if (r->anchored ? rule_match(r, path, len) : rule_match(r, base, base_len))
            return r->negate ? 0 : 1;
    }
    return 0;
}

int sync_ignore_match(const struct sync_ignore *ig, const char *path, size_t len, int is_dir)
{
    if (!ig)
        return SYNC_EINVAL;
    int rc = sync_path_check(path, len);
    if (rc)
        return rc;
    return ignore_decide(ig, path, len, is_dir);
}

int sync_ignore_path(const struct sync_ignore *ig, const char *path, size_t len, int is_dir)
{
    if (!ig)
        return SYNC_EINVAL;
    int rc = sync_path_check(path, len);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/' && ignore_decide(ig, path, i, 1))
            return 1;
    return ignore_decide(ig, path, len, is_dir);
}

/* ------------------------------------------------------------------ */
/* Building                                                            */

/* Compile every line of text[0..len) and append the rules.  Returns 0,
 * -ENOMEM, or SYNC_ETOOLONG with *bad_line set. */
static int ignore_add_text(struct sync_ignore *ig, const char *text, size_t len, size_t max_rules,
                           size_t *bad_line)
{
    size_t added = 0, line = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        text += 3, len -= 3;
    while (len) {
        line++;
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) : len;
        if (n > SYNC_IGNORE_LINE_MAX) {
            *bad_line = line;
            return SYNC_ETOOLONG;
        }
        if (ig->n == ig->cap) {
            size_t cap = ig->cap ? ig->cap * 2 : 32;
            struct ignore_rule *nr = realloc(ig->rules, cap * sizeof *nr);
            if (!nr)
                return -ENOMEM;
            ig->rules = nr;
            ig->cap = cap;
        }
        int rc = rule_compile(&ig->rules[ig->n], text, n);
        if (rc < 0)
            return rc;
        if (rc > 0 && ++added > max_rules) {
            rule_release(&ig->rules[ig->n]);
            *bad_line = line;
            return SYNC_ETOOLONG;
        }
        ig->n += (size_t)rc;
        text += n + (nl ? 1 : 0);
        len -= n + (nl ? 1 : 0);
    }
    return 0;
}

int sync_ignore_new(const char *text, size_t len, size_t *bad_line, struct sync_ignore **out)
{
    struct sync_ignore *ig = NULL;
    size_t where = 0;
    int rc = SYNC_EINVAL;
    if (!out || (!text && len))
        goto out;
    rc = SYNC_ETOOLONG;
    if (len > SYNC_IGNORE_TEXT_MAX)
        goto out;
    rc = -ENOMEM;
    ig = calloc(1, sizeof *ig);
    if (!ig)
        goto out;
    rc = ignore_add_text(ig, ignore_builtin, sizeof ignore_builtin - 1, SIZE_MAX, &where);
    if (rc)
        goto out;
    ig->builtin = ig->n;
    if (len)
        rc = ignore_add_text(ig, text, len, SYNC_IGNORE_RULES_MAX, &where);
out:
    if (rc) {
        if (rc == SYNC_ETOOLONG && bad_line)
            *bad_line = where;
        sync_ignore_free(ig);
        return rc;
    }
    *out = ig;
    return 0;
}

/* Read all of fd, at most max bytes; SYNC_ETOOLONG if there is more. */
static int read_capped(int fd, char *buf, size_t max, size_t *got)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            return SYNC_ETOOLONG;
    }
    *got = n;
    return 0;
}

int sync_ignore_new_from_file(const char *path, size_t *bad_line, struct sync_ignore **out)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = SYNC_EINVAL;
    int fd = -1;
    if (!path || !out)
        goto out;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? sync_ignore_new(NULL, 0, bad_line, out) : -errno;
        goto out;
    }
    rc = -ENOMEM;
    buf = malloc(SYNC_IGNORE_TEXT_MAX + 1);
    if (!buf)
        goto out;
    rc = read_capped(fd, buf, SYNC_IGNORE_TEXT_MAX, &len);
    if (rc == SYNC_ETOOLONG && bad_line)
        *bad_line = 0;
    if (rc == 0)
        rc = sync_ignore_new(buf, len, bad_line, out);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

void sync_ignore_free(struct sync_ignore *ig)
{
    if (!ig)
        return;
    for (size_t i = 0; i < ig->n; i++)
        rule_release(&ig->rules[i]);
    free(ig->rules);
    free(ig);
}

size_t sync_ignore_rule_count(const struct sync_ignore *ig)
{
    return ig ? ig->n - ig->builtin : 0;
}
