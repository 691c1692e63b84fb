/* mamori's SQL-injection detector (@detectSQLi).
 *
 * A value is read three times: as SQL text as-is, as if it started inside a
 * single-quoted literal, and as if it started inside a double-quoted one
 * (an attacker's payload usually begins inside the application's quoted
 * value and "breaks out"). Each pass runs a small SQL lexer, keeps only a
 * fixed window of classified tokens, and matches injection shapes written as
 * code: anywhere-shapes (UNION SELECT, stacked statements, subqueries,
 * time/error-based function calls, WAITFOR DELAY) and breakout-shapes
 * anchored at the start of the value (tautologies, comment truncation,
 * ORDER BY probes, quote-concatenation). Shapes are written for mamori;
 * nothing here comes from libinjection. See docs/internals/sqli.md.
 *
 * Invariants: no allocation, no global mutable state, every input byte is
 * looked at a bounded number of times per pass (linear time), state is a
 * few hundred bytes on the stack. */
#include "waf/detect/detect.h"

#include <stdint.h>
#include <string.h>

/* Token classes; the class character is also what the fingerprint shows. */
enum {
    T_STRING = 's',
    T_NUMBER = '1',
    T_BARE = 'n',
    T_VAR = 'v',
    T_KEYWORD = 'k',
    T_UNION = 'U',
    T_SELECT = 'E',
    T_VERB = 'T',   /* statement verb other than SELECT: drop, insert, ... */
    T_CLAUSE = 'B', /* order, group, limit, having */
    T_WAITFOR = 'W',
    T_FUNC = 'f',   /* known SQL function name followed by '(' */
    T_LOGIC = '&',
    T_OP = 'o',
    T_LPAREN = '(',
    T_RPAREN = ')',
    T_SEMI = ';',
    T_COMMA = ',',
    T_COMMENT = 'c',
    T_OTHER = 'x',
};

/* Token flags. */
enum {
    F_CLOSED = 1 << 0,  /* string literal has its closing quote */
    F_DANGER = 1 << 1,  /* function that sleeps, errors out or reaches out */
    F_ADJ = 1 << 2,     /* function name immediately followed by '(' */
    F_CMP = 1 << 3,     /* comparison operator */
    F_CONCAT = 1 << 4,  /* | || + : string concatenation in some dialect */
    F_CMT = 1 << 5,     /* a comment follows this token */
    F_STAR = 1 << 6,    /* the '*' operator (select * ...) */
    F_UNARY = 1 << 7,   /* may be a prefix operator: - + ! ~ not */
    F_LONGCMT = 1 << 8, /* ... and that comment holds prose, not "-- -" */
    F_SPACED = 1 << 9,  /* the broken-out literal holds whitespace (prose) */
    F_NESTED = 1 << 10, /* block comment with another opener inside */
};

/* Keyword ids that rules look at; 0 means "no rule cares". */
enum kw_id {
    K_NONE,
    K_ALL,
    K_BY,
    K_CREATE,
    K_DATABASE,
    K_DECLARE,
    K_DELAY,
    K_DELETE,
    K_DISTINCT,
    K_DROP,
    K_EXEC,
    K_FROM,
    K_FUNCTION,
    K_INDEX,
    K_INSERT,
    K_INTO,
    K_LIMIT,
    K_ORDER,
    K_GROUP,
    K_PROCEDURE,
    K_SCHEMA,
    K_SET,
    K_SHUTDOWN,
    K_TABLE,
    K_TIME,
    K_TOP,
    K_TRIGGER,
    K_TRUNCATE,
    K_UPDATE,
    K_USER,
    K_VIEW,
    K_ALTER,
    K_HAVING,
    K_ASC,
    K_DESC,
    K_WHERE,
    K_VALUES,
};

struct kw {
    const char *name;
    char type;      /* class when not called */
    char call_type; /* class when followed by '(' (0: same as type) */
    uint16_t flags;
    uint8_t id;
};

/* Written for mamori from the MySQL, PostgreSQL, SQL Server, Oracle and
 * SQLite manuals: words that change what an injected fragment means.
 * Sorted by name (kw_lookup searches it by halves); lower case. Function names are bare words
 * unless a '(' follows. */
static const struct kw kw_table[] = {
    {"all", T_KEYWORD, 0, 0, K_ALL},
    {"alter", T_VERB, 0, 0, K_ALTER},
    {"and", T_LOGIC, 0, 0, 0},
    {"asc", T_KEYWORD, 0, 0, K_ASC},
    {"ascii", T_BARE, T_FUNC, 0, 0},
    {"benchmark", T_BARE, T_FUNC, F_DANGER, 0},
    {"between", T_OP, 0, F_CMP, 0},
    {"bin", T_BARE, T_FUNC, 0, 0},
    {"by", T_KEYWORD, 0, 0, K_BY},
    {"cast", T_BARE, T_FUNC, 0, 0},
    {"char", T_BARE, T_FUNC, 0, 0},
    {"char_length", T_BARE, T_FUNC, 0, 0},
    {"chr", T_BARE, T_FUNC, 0, 0},
    {"coalesce", T_BARE, T_FUNC, 0, 0},
    {"collate", T_OP, 0, 0, 0},
    {"concat", T_BARE, T_FUNC, 0, 0},
    {"concat_ws", T_BARE, T_FUNC, 0, 0},
    {"conv", T_BARE, T_FUNC, 0, 0},
    {"convert", T_BARE, T_FUNC, 0, 0},
    {"count", T_BARE, T_FUNC, 0, 0},
    {"create", T_VERB, 0, 0, K_CREATE},
    {"current_database", T_BARE, T_FUNC, 0, 0},
    {"current_user", T_BARE, T_FUNC, 0, 0},
    {"database", T_KEYWORD, T_FUNC, 0, K_DATABASE},
    {"db_name", T_BARE, T_FUNC, 0, 0},
    {"dbms_lock.sleep", T_BARE, T_FUNC, F_DANGER, 0},
    {"dbms_pipe.receive_message", T_BARE, T_FUNC, F_DANGER, 0},
    {"declare", T_VERB, 0, 0, K_DECLARE},
    {"delay", T_KEYWORD, 0, 0, K_DELAY},
    {"delete", T_VERB, 0, 0, K_DELETE},
    {"desc", T_KEYWORD, 0, 0, K_DESC},
    {"distinct", T_KEYWORD, 0, 0, K_DISTINCT},
    {"div", T_OP, 0, 0, 0},
    {"drop", T_VERB, 0, 0, K_DROP},
    {"elt", T_BARE, T_FUNC, 0, 0},
    {"exec", T_VERB, 0, 0, K_EXEC},
    {"execute", T_VERB, 0, 0, K_EXEC},
    {"exp", T_BARE, T_FUNC, 0, 0},
    {"extractvalue", T_BARE, T_FUNC, F_DANGER, 0},
    {"false", T_NUMBER, 0, 0, 0},
    {"floor", T_BARE, T_FUNC, 0, 0},
    {"from", T_KEYWORD, 0, 0, K_FROM},
    {"function", T_KEYWORD, 0, 0, K_FUNCTION},
    {"glob", T_OP, 0, F_CMP, 0},
    {"group", T_CLAUSE, 0, 0, K_GROUP},
    {"group_concat", T_BARE, T_FUNC, 0, 0},
    {"gtid_subset", T_BARE, T_FUNC, F_DANGER, 0},
    {"having", T_CLAUSE, 0, 0, K_HAVING},
    {"hex", T_BARE, T_FUNC, 0, 0},
    {"if", T_BARE, T_FUNC, 0, 0},
    {"ifnull", T_BARE, T_FUNC, 0, 0},
    {"iif", T_BARE, T_FUNC, 0, 0},
    {"ilike", T_OP, 0, F_CMP, 0},
    {"in", T_OP, 0, F_CMP, 0},
    {"index", T_KEYWORD, 0, 0, K_INDEX},
    {"insert", T_VERB, T_FUNC, 0, K_INSERT},
    {"into", T_KEYWORD, 0, 0, K_INTO},
    {"is", T_OP, 0, F_CMP, 0},
    {"isnull", T_BARE, T_FUNC, 0, 0},
    {"left", T_BARE, T_FUNC, 0, 0},
    {"len", T_BARE, T_FUNC, 0, 0},
    {"length", T_BARE, T_FUNC, 0, 0},
    {"like", T_OP, 0, F_CMP, 0},
    {"limit", T_CLAUSE, 0, 0, K_LIMIT},
    {"load_file", T_BARE, T_FUNC, F_DANGER, 0},
    {"lower", T_BARE, T_FUNC, 0, 0},
    {"make_set", T_BARE, T_FUNC, 0, 0},
    {"md5", T_BARE, T_FUNC, 0, 0},
    {"mid", T_BARE, T_FUNC, 0, 0},
    {"mod", T_OP, T_FUNC, 0, 0},
    {"name_const", T_BARE, T_FUNC, F_DANGER, 0},
    {"not", T_OP, 0, F_UNARY, 0},
    {"null", T_NUMBER, 0, 0, 0},
    {"nullif", T_BARE, T_FUNC, 0, 0},
    {"or", T_LOGIC, 0, 0, 0},
    {"ord", T_BARE, T_FUNC, 0, 0},
    {"order", T_CLAUSE, 0, 0, K_ORDER},
    {"pg_read_file", T_BARE, T_FUNC, F_DANGER, 0},
    {"pg_sleep", T_BARE, T_FUNC, F_DANGER, 0},
    {"procedure", T_KEYWORD, 0, 0, K_PROCEDURE},
    {"rand", T_BARE, T_FUNC, 0, 0},
    {"randomblob", T_BARE, T_FUNC, F_DANGER, 0},
    {"regexp", T_OP, 0, F_CMP, 0},
    {"replace", T_BARE, T_FUNC, 0, 0},
    {"right", T_BARE, T_FUNC, 0, 0},
    {"rlike", T_OP, 0, F_CMP, 0},
    {"schema", T_KEYWORD, T_FUNC, 0, K_SCHEMA},
    {"select", T_SELECT, 0, 0, 0},
    {"session_user", T_BARE, T_FUNC, 0, 0},
    {"set", T_KEYWORD, 0, 0, K_SET},
    {"sha1", T_BARE, T_FUNC, 0, 0},
    {"shutdown", T_VERB, 0, 0, K_SHUTDOWN},
    {"sleep", T_BARE, T_FUNC, F_DANGER, 0},
    {"substr", T_BARE, T_FUNC, 0, 0},
    {"substring", T_BARE, T_FUNC, 0, 0},
    {"system_user", T_BARE, T_FUNC, 0, 0},
    {"table", T_KEYWORD, 0, 0, K_TABLE},
    {"time", T_KEYWORD, 0, 0, K_TIME},
    {"top", T_KEYWORD, 0, 0, K_TOP},
    {"trigger", T_KEYWORD, 0, 0, K_TRIGGER},
    {"true", T_NUMBER, 0, 0, 0},
    {"truncate", T_VERB, 0, 0, K_TRUNCATE},
    {"unhex", T_BARE, T_FUNC, 0, 0},
    {"union", T_UNION, 0, 0, 0},
    {"update", T_VERB, 0, 0, K_UPDATE},
    {"updatexml", T_BARE, T_FUNC, F_DANGER, 0},
    {"upper", T_BARE, T_FUNC, 0, 0},
    {"user", T_KEYWORD, T_FUNC, 0, K_USER},
    {"utl_http.request", T_BARE, T_FUNC, F_DANGER, 0},
    {"utl_inaddr.get_host_address", T_BARE, T_FUNC, F_DANGER, 0},
    {"values", T_KEYWORD, T_FUNC, 0, K_VALUES},
    {"version", T_BARE, T_FUNC, 0, 0},
    {"view", T_KEYWORD, 0, 0, K_VIEW},
    {"waitfor", T_WAITFOR, 0, 0, 0},
    {"where", T_KEYWORD, 0, 0, K_WHERE},
    {"xmltype", T_BARE, T_FUNC, 0, 0},
    {"xor", T_LOGIC, 0, 0, 0},
    {"xp_cmdshell", T_BARE, T_FUNC, F_DANGER, 0},
};
#define KW_MAXLEN 31

struct tok {
    char type;
    uint16_t flags;
    uint8_t id;
};

/* Window of the last WIN significant tokens (comments fold into the
 * previous token's F_CMT). A rule anchored at token i sees tokens
 * i..i+WIN-1, so every shape below is at most WIN tokens long. */
#define WIN 8
#define FP_MAX 15

struct pass {
    struct tok ring[WIN];
    unsigned start, cnt;     /* ring holds cnt tokens from start */
    struct tok head[WIN];    /* first WIN tokens of the value */
    unsigned head_n;
    size_t total;            /* significant tokens seen */
    struct tok last2[2];     /* the two most recent tokens ([1] newest) */
    bool head_done;
    bool dead;               /* as-is pass whose first token cannot start SQL */
    char quote;              /* 0, '\'' or '"': the context of this pass */
    char fp[FP_MAX + 1];
    unsigned fp_n;
    const char *reason;      /* set once a shape matches */
};

/* A view of up to WIN tokens; at() past the end yields type 0. */
struct view {
    const struct tok *t[WIN];
    unsigned n;
};

static char v_type(const struct view *v, unsigned i)
{
    return i < v->n ? v->t[i]->type : 0;
}

static uint16_t v_flags(const struct view *v, unsigned i)
{
    return i < v->n ? v->t[i]->flags : 0;
}

static uint8_t v_id(const struct view *v, unsigned i)
{
    return i < v->n ? v->t[i]->id : 0;
}

/* ---- lexer ---------------------------------------------------------- */

static bool is_space(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

static bool is_word_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
           c >= 0x80;
}

static bool is_word_char(unsigned char c)
{
    return is_word_start(c) || (c >= '0' && c <= '9') || c == '.';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static const struct kw *kw_lookup(const unsigned char *w, size_t len)
{
    char buf[KW_MAXLEN + 1];
    if (len < 2 || len > KW_MAXLEN)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = w[i];
        buf[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    buf[len] = '\0';
    size_t lo = 0, hi = sizeof kw_table / sizeof kw_table[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const unsigned char *k = (const unsigned char *)kw_table[mid].name;
        const unsigned char *b = (const unsigned char *)buf;
        /* inline strcmp: most probes differ in the first byte or two */
        while (*b && *b == *k) {
            b++;
            k++;
        }
        int c = *b - *k;
        if (c == 0)
            return &kw_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Scans a literal whose opening quote is just before pos. Doubled quotes
 * and backslash escapes stay inside (MySQL accepts both). Returns the
 * position after the closing quote, or n when the literal runs to the end. */
static size_t lex_string(const unsigned char *s, size_t n, size_t pos, unsigned char q,
                         struct tok *t)
{
    t->type = T_STRING;
    t->flags = 0;
    t->id = 0;
    /* The next quote at or after pos, remembered across backslashes so
     * that "\\a\\a\\a..." does not rescan to it each time; NULL = none left. */
    const unsigned char *hit = NULL;
    bool hit_known = false;
    while (pos < n) {
        if (!hit_known || (hit && hit < s + pos)) {
            hit = memchr(s + pos, q, n - pos);
            hit_known = true;
        }
        /* A backslash only matters before that quote; bounding the search
         * keeps the scan linear. */
        size_t span = hit ? (size_t)(hit - s) - pos : n - pos;
        const unsigned char *bs = memchr(s + pos, '\\', span);
        if (bs) {
            pos = (size_t)(bs - s) + 2; /* skip the escaped byte */
            continue;
        }
        if (!hit)
            break;
        pos = (size_t)(hit - s) + 1;
        if (pos < n && s[pos] == q) {
            pos++; /* doubled quote: still inside */
            continue;
        }
        t->flags = F_CLOSED;
        return pos;
    }
    return n;
}

static size_t skip_digits(const unsigned char *s, size_t n, size_t pos)
{
    while (pos < n && is_digit(s[pos]))
        pos++;
    return pos;
}

static size_t lex_number(const unsigned char *s, size_t n, size_t pos, struct tok *t)
{
    t->type = T_NUMBER;
    if (s[pos] == '0' && pos + 2 < n && (s[pos + 1] | 0x20) == 'x' && is_hex(s[pos + 2])) {
        pos += 2;
        while (pos < n && is_hex(s[pos]))
            pos++;
    } else {
        pos = skip_digits(s, n, pos);
        /* "10.5" and "10." are numbers; in "20.to_i" the dot starts a member */
        if (pos < n && s[pos] == '.' && !(pos + 1 < n && is_word_start(s[pos + 1])))
            pos = skip_digits(s, n, pos + 1);
        if (pos + 1 < n && (s[pos] | 0x20) == 'e' &&
            (is_digit(s[pos + 1]) ||
             ((s[pos + 1] == '+' || s[pos + 1] == '-') && pos + 2 < n && is_digit(s[pos + 2]))))
            pos = skip_digits(s, n, pos + 2);
    }
    /* "3rd", "12px", "4a0f": words that start with digits, not numbers. */
    if (pos < n && is_word_start(s[pos])) {
        t->type = T_BARE;
        while (pos < n && is_word_char(s[pos]))
            pos++;
    }
    return pos;
}

/* Skips whitespace and block comments between a function name and its
 * '(' ("SLEEP/ * * /(5)" without the spaces). */
static size_t skip_gap(const unsigned char *s, size_t n, size_t pos)
{
    for (;;) {
        while (pos < n && is_space(s[pos]))
            pos++;
        if (pos + 1 < n && s[pos] == '/' && s[pos + 1] == '*') {
            size_t p = pos + 2;
            while (p + 1 < n && !(s[p] == '*' && s[p + 1] == '/'))
                p++;
            if (p + 1 >= n)
                return n;
            pos = p + 2;
            continue;
        }
        return pos;
    }
}

static size_t lex_word(const unsigned char *s, size_t n, size_t pos, struct tok *t)
{
    size_t b = pos;
    while (pos < n && is_word_char(s[pos]))
        pos++;
    t->type = T_BARE;
    const struct kw *k = kw_lookup(s + b, pos - b);
    if (!k)
        return pos;
    t->type = k->type;
    t->flags = k->flags;
    t->id = k->id;
    if (k->call_type) {
        size_t p = skip_gap(s, n, pos);
        if (p < n && s[p] == '(') {
            t->type = k->call_type;
            if (p == pos)
                t->flags |= F_ADJ;
        } else {
            t->flags &= (uint16_t)~F_DANGER;
        }
    }
    return pos;
}

/* Reads one token starting at pos (not whitespace). *in_exec tracks a
 * MySQL "/ *!" (no space) comment whose body is executed as SQL. */
static size_t lex_token(const unsigned char *s, size_t n, size_t pos, struct tok *t,
                        bool *in_exec)
{
    unsigned char c = s[pos];
    unsigned char d = pos + 1 < n ? s[pos + 1] : 0;
    t->flags = 0;
    t->id = 0;
    t->type = T_OP;
    switch (c) {
    case '\'':
    case '"':
        return lex_string(s, n, pos + 1, c, t);
    case '`': {
        const unsigned char *e = memchr(s + pos + 1, '`', n - pos - 1);
        t->type = T_BARE;
        return e ? (size_t)(e - s) + 1 : n;
    }
    case '#':
        t->type = T_COMMENT;
        return n;
    case '-':
        if (d == '-') {
            const unsigned char *e = memchr(s + pos, '\n', n - pos);
            t->type = T_COMMENT;
            return e ? (size_t)(e - s) + 1 : n;
        }
        t->flags = F_UNARY;
        return pos + 1;
    case '/':
        if (d == '*') {
            if (pos + 2 < n && s[pos + 2] == '!') {
                *in_exec = true;
                return skip_digits(s, n, pos + 3);
            }
            t->type = T_COMMENT;
            /* A comment that opens again at once ("/ * / * /" without the
             * spaces, the closer's star shared) is an evasion probe that
             * CRS expects flagged. Only the immediate form: openers further
             * in are globs in prose ("llvm/test/ * / lld/test/ *"). */
            if (pos + 3 < n && s[pos + 2] == '/' && s[pos + 3] == '*')
                t->flags |= F_NESTED;
            for (size_t p = pos + 2; p + 1 < n; p++)
                if (s[p] == '*' && s[p + 1] == '/')
                    return p + 2;
            return n;
        }
        return pos + 1;
    case '*':
        if (*in_exec && d == '/') {
            *in_exec = false;
            t->type = T_COMMENT;
            return pos + 2;
        }
        t->flags = F_STAR;
        return pos + 1;
    case '(':
    case ')':
    case ',':
    case ';':
        t->type = (char)c;
        return pos + 1;
    case '=':
        t->flags = F_CMP;
        return pos + 1;
    case '<':
        t->flags = F_CMP;
        if (d == '=' && pos + 2 < n && s[pos + 2] == '>')
            return pos + 3;
        if (d == '<')
            t->flags = 0;
        return (d == '=' || d == '>' || d == '<') ? pos + 2 : pos + 1;
    case '>':
        t->flags = F_CMP;
        if (d == '>')
            t->flags = 0;
        return (d == '=' || d == '>') ? pos + 2 : pos + 1;
    case '!':
        if (d == '=') {
            t->flags = F_CMP;
            return pos + 2;
        }
        t->flags = F_UNARY;
        return pos + 1;
    case '|':
        if (d == '|') {
            t->type = T_LOGIC;
            t->flags = F_CONCAT;
            return pos + 2;
        }
        t->flags = F_CONCAT;
        return pos + 1;
    case '&':
        if (d == '&') {
            t->type = T_LOGIC;
            return pos + 2;
        }
        return pos + 1;
    case '+':
        t->flags = F_CONCAT | F_UNARY;
        return pos + 1;
    case '~':
        t->flags = F_UNARY;
        return pos + 1;
    case '%':
    case '^':
        return pos + 1;
    case ':':
        if (d == '=' || d == ':')
            return pos + 2;
        t->type = T_OTHER;
        return pos + 1;
    case '@':
        if (d == '@' || is_word_start(d)) {
            size_t p = pos + 1;
            if (d == '@')
                p++;
            while (p < n && is_word_char(s[p]))
                p++;
            t->type = T_VAR;
            return p;
        }
        t->type = T_OTHER;
        return pos + 1;
    case '.':
        if (is_digit(d))
            return lex_number(s, n, pos, t);
        t->type = T_OTHER;
        return pos + 1;
    default:
        break;
    }
    if (is_digit(c))
        return lex_number(s, n, pos, t);
    if (is_word_start(c))
        return lex_word(s, n, pos, t);
    t->type = T_OTHER;
    return pos + 1;
}

/* ---- shapes ---------------------------------------------------------- */

static bool is_operand(char ty)
{
    return ty == T_NUMBER || ty == T_STRING || ty == T_VAR || ty == T_FUNC;
}

/* After SELECT at index i: does what follows read as a select list?
 * "select 1", "select *", "select @@version", "select user()",
 * "select a, b", "select a from" -- but not "select your size". */
static bool select_follows(const struct view *v, unsigned i)
{
    unsigned j = i + 1;
    while (v_type(v, j) == T_KEYWORD &&
           (v_id(v, j) == K_ALL || v_id(v, j) == K_DISTINCT || v_id(v, j) == K_TOP))
        j++;
    char ty = v_type(v, j);
    if (ty == T_LPAREN)
        return true;
    if (is_operand(ty))
        return v_type(v, j + 1) != T_BARE || ty == T_FUNC; /* not "(select 2 items)" */
    if (ty == T_OP && (v_flags(v, j) & F_STAR))
        return true;
    if (ty == T_BARE) {
        char nx = v_type(v, j + 1);
        if (nx == T_COMMA)
            return true;
        if (nx == T_KEYWORD && v_id(v, j + 1) == K_FROM && v_type(v, j + 2) == T_BARE)
            return true;
    }
    return false;
}

/* A statement starting at index i (after ';' or as a stacked query). */
static const char *statement_at(const struct view *v, unsigned i, bool at_end_ok)
{
    char ty = v_type(v, i);
    uint8_t id = v_id(v, i);
    if (ty == T_SELECT)
        return select_follows(v, i) ? "stacked SELECT" : NULL;
    if (ty == T_WAITFOR)
        return v_id(v, i + 1) == K_DELAY || v_id(v, i + 1) == K_TIME ? "stacked WAITFOR" : NULL;
    if (ty != T_VERB)
        return NULL;
    char nt = v_type(v, i + 1);
    uint8_t nid = v_id(v, i + 1);
    switch (id) {
    case K_DROP:
    case K_CREATE:
    case K_ALTER:
    case K_TRUNCATE:
        if (nid == K_TABLE || nid == K_DATABASE || nid == K_SCHEMA || nid == K_VIEW ||
            nid == K_PROCEDURE || nid == K_FUNCTION || nid == K_INDEX || nid == K_TRIGGER ||
            nid == K_USER)
            return "stacked DDL statement";
        break;
    case K_DELETE:
        if (nid == K_FROM)
            return "stacked DELETE";
        break;
    case K_INSERT:
        if (nid == K_INTO && v_type(v, i + 2) == T_BARE &&
            (v_type(v, i + 3) == T_LPAREN || v_type(v, i + 3) == T_SELECT ||
             v_type(v, i + 3) == T_FUNC || v_id(v, i + 3) == K_VALUES))
            return "stacked INSERT";
        break;
    case K_UPDATE:
        if (nt == T_BARE && v_id(v, i + 2) == K_SET)
            return "stacked UPDATE";
        break;
    case K_EXEC: {
        /* exec xp_cmdshell 'dir'  exec(@q)  exec sp_x;  -- not "exec team" */
        char a = v_type(v, i + 2);
        if (nt == T_VAR || nt == T_FUNC ||
            (nt == T_LPAREN && (v_type(v, i + 2) == T_STRING || v_type(v, i + 2) == T_VAR)))
            return "stacked EXEC";
        if (nt == T_BARE && (a == T_STRING || a == T_VAR || a == T_SEMI || a == T_COMMA ||
                             (a == 0 && at_end_ok) || (v_flags(v, i + 1) & F_CMT)))
            return "stacked EXEC";
        break;
    }
    case K_DECLARE:
        if (nt == T_VAR)
            return "stacked DECLARE";
        break;
    case K_SHUTDOWN:
        if ((nt == 0 && at_end_ok) || (v_flags(v, i) & F_CMT))
            return "stacked SHUTDOWN";
        break;
    default:
        break;
    }
    return NULL;
}

/* Shapes that are injections wherever they appear. v->t[0] is the anchor;
 * `ended` says the value ends after v->t[v->n - 1]. */
static const char *anywhere_rules(const struct view *v, bool ended)
{
    const struct tok *a = v->t[0];
    switch (a->type) {
    case T_FUNC:
        if (!(a->flags & F_DANGER))
            return NULL;
        /* "sleep(5)"; with a gap only the exact "sleep (5)" shape, so
         * that prose like "sleep (8 hours)" stays clean. */
        if (a->flags & F_ADJ) {
            /* sleep(5) pg_sleep(1) load_file('x') benchmark(9,md5(1)), but
             * not a C macro like BENCHMARK(BM_Copy) */
            char arg = v_type(v, 2);
            if (is_operand(arg) || arg == T_LPAREN || arg == T_SELECT ||
                (arg == T_OP && (v_flags(v, 2) & F_UNARY)) || (arg == 0 && ended))
                return "time/error-based function call";
            return NULL;
        }
        if (v_type(v, 2) == T_NUMBER && v_type(v, 3) == T_RPAREN)
            return "time/error-based function call";
        return NULL;
    case T_UNION: {
        unsigned j = 1;
        if (v_type(v, j) == T_KEYWORD && (v_id(v, j) == K_ALL || v_id(v, j) == K_DISTINCT))
            j++;
        if (v_type(v, j) == T_LPAREN)
            j++;
        if (v_type(v, j) == T_SELECT && select_follows(v, j))
            return "UNION SELECT";
        return NULL;
    }
    case T_SEMI:
        return statement_at(v, 1, ended);
    case T_LPAREN:
        if (v_type(v, 1) == T_SELECT && select_follows(v, 1))
            return "subquery";
        return NULL;
    case T_WAITFOR:
        if ((v_id(v, 1) == K_DELAY || v_id(v, 1) == K_TIME) && v_type(v, 2) == T_STRING)
            return "WAITFOR DELAY";
        return NULL;
    default:
        return NULL;
    }
}

/* Parses one operand at *j: prefix operators, opening parens, then a
 * literal, variable, function call or bare word. Returns its class or 0. */
static char take_operand(const struct view *v, unsigned *j)
{
    unsigned k = *j;
    for (int guard = 0; guard < 3; guard++) {
        char ty = v_type(v, k);
        if ((ty == T_OP && (v_flags(v, k) & F_UNARY)) || ty == T_LPAREN)
            k++;
        else
            break;
    }
    char ty = v_type(v, k);
    if (is_operand(ty) || ty == T_BARE) {
        *j = k + 1;
        return ty;
    }
    return 0;
}

/* Shapes anchored at the start of the value: what the attacker types right
 * after breaking out of the quoted (or numeric) value. */
/* After a condition at index j-1: does the injected clause end there, as
 * SQL would (end, comment, AND/OR, ')', ';', LIMIT, UNION, an operator),
 * rather than run on into prose ("x" or y="-O2" to make it work)? */
static bool clause_ends(const struct view *v, unsigned j)
{
    char ty = v_type(v, j);
    if (j >= v->n || (v_flags(v, j - 1) & F_CMT))
        return true;
    return ty == T_LOGIC || ty == T_RPAREN || ty == T_SEMI || ty == T_CLAUSE || ty == T_UNION ||
           ty == T_OP || ty == T_COMMA;
}

/* A whole statement as the value ("DELETE FROM users;--"): only when it
 * is ended like one, so "delete from cart" stays prose. */
static const char *statement_rules(const struct view *v)
{
    const char *r = statement_at(v, 0, true);
    if (!r)
        return NULL;
    for (unsigned k = 0; k < v->n; k++)
        if (v->t[k]->type == T_SEMI || (v->t[k]->flags & F_CMT))
            return r;
    return NULL;
}

static const char *breakout_rules(const struct pass *p)
{
    struct view hv;
    hv.n = p->head_n;
    for (unsigned i = 0; i < hv.n; i++)
        hv.t[i] = &p->head[i];
    const struct view *v = &hv;
    bool quoted = p->quote != 0;
    unsigned i = 0;
    bool numeric = false;

    if (!quoted) {
        const char *r = statement_rules(v);
        if (r)
            return r;
    }

    if (quoted) {
        if (v_type(v, 0) != T_STRING || !(v_flags(v, 0) & F_CLOSED))
            return NULL;
        i = 1;
    } else {
        if (v_type(v, 0) == T_OP && (v_flags(v, 0) & F_UNARY))
            i = 1;
        if (v_type(v, i) == T_NUMBER)
            numeric = true;
        else if (v_type(v, i) != T_BARE || i)
            return NULL;
        i++;
    }
    while (v_type(v, i) == T_RPAREN && i < 4)
        i++;
    uint16_t before = v_flags(v, i - 1);
    char ty = v_type(v, i);
    /* The weak shapes below (one quote and a comment, '=' between quotes)
     * also occur in prose quoting a character: "the '#' sign", "a '='".
     * Injected values put a single word, or nothing, before the quote. */
    bool word = quoted && !(v_flags(v, 0) & F_SPACED);

    /* admin'--  admin' (slash-star)  admin'#: the rest of the query is cut off. */
    if (word && (before & F_CMT) && !(before & F_LONGCMT) && ty == 0)
        return "comment after quote breakout";
    if (ty == 0)
        return NULL;

    /* 1';--  admin@example.com';  : the statement ends after the value */
    if (ty == T_SEMI && word) {
        if (!(v_flags(v, i) & F_LONGCMT) && v_type(v, i + 1) == 0)
            return "statement end after quote breakout";
        return NULL;
    }

    /* 1'='1  : compare the broken-out literal with one the application
     * will close for us. */
    if (word && i == 1 && ty == T_OP && (v_flags(v, 1) & F_CMP)) {
        char r = v_type(v, 2);
        if (r == T_STRING && !(v_flags(v, 2) & F_CLOSED) && v_type(v, 3) == 0)
            return "comparison between quote breakouts";
        if ((r == T_STRING || r == T_NUMBER) &&
            ((v_flags(v, 2) & F_CMT) || v_type(v, 3) == T_LOGIC))
            return "comparison between quote breakouts";
    }

    /* x'|email--  user'collate nocase--  x'=email-- : an operator joins the
     * broken-out literal to a column and the rest is commented out. */
    if (word && i == 1 && ty == T_OP) {
        unsigned j = 2;
        if (take_operand(v, &j) && (v_flags(v, j - 1) & F_CMT) && v_type(v, j) == 0)
            return "operator then comment after breakout";
        return NULL;
    }

    /* 1' ORDER BY 3--   1 group by 2#   ' limit 1--   ' having 1=1-- */
    if (ty == T_CLAUSE && (quoted || numeric)) {
        unsigned j = i + 1;
        uint8_t id = v_id(v, i);
        if (id == K_HAVING) {
            if (!take_operand(v, &j) || v_type(v, j) != T_OP || !(v_flags(v, j) & F_CMP))
                return NULL;
            j++;
            return take_operand(v, &j) ? "HAVING probe after breakout" : NULL;
        }
        if (id == K_ORDER || id == K_GROUP) {
            if (v_id(v, j) != K_BY)
                return NULL;
            j++;
        } else if (id != K_LIMIT) {
            return NULL;
        }
        char o = v_type(v, j);
        if (o != T_NUMBER && !(o == T_BARE && id != K_LIMIT))
            return NULL;
        char after = v_type(v, j + 1);
        if ((v_flags(v, j) & F_CMT) || after == T_COMMA || after == T_CLAUSE ||
            v_id(v, j + 1) == K_ASC ||
            v_id(v, j + 1) == K_DESC || (after == 0 && j + 1 < WIN))
            return "ORDER BY/LIMIT probe after breakout";
        return NULL;
    }

    if (ty != T_LOGIC)
        return NULL;

    /* ' or 1=1   1 AND 2>1   ') or ('a'='a   ' and ascii(substring(... */
    unsigned j = i + 1;
    if (v_type(v, j) == T_SELECT)
        return (quoted || numeric) && select_follows(v, j) ? "logic then SELECT" : NULL;
    char lhs = take_operand(v, &j);
    if (!lhs)
        return NULL;
    if (lhs == T_FUNC && (quoted || numeric))
        return "logic then function call after breakout";
    bool bare = lhs == T_BARE;
    for (int guard = 0; guard < 3 && v_type(v, j) == T_OP && !(v_flags(v, j) & F_CMP); guard++) {
        j++;
        char more = take_operand(v, &j);
        if (!more)
            return NULL;
        bare = bare || more == T_BARE;
    }
    if (v_type(v, j) == T_OP && (v_flags(v, j) & F_CMP)) {
        j++;
        char rhs = take_operand(v, &j);
        if (!rhs || !clause_ends(v, j))
            return NULL;
        /* Outside quotes a bare word on either side reads like prose
         * ("10 and price < 20"); inside, the breakout already happened. */
        if (quoted || (!bare && rhs != T_BARE))
            return "tautology after breakout";
        return NULL;
    }
    /* ' or 1--   1 and true# : condition, then the rest is commented out. */
    if (!bare && (quoted || numeric) && (v_flags(v, j - 1) & F_CMT))
        return "logic then comment after breakout";
    return NULL;
}

/* ---- driver ------------------------------------------------------------ */

/* Anchors anywhere_rules() can match; other tokens skip the view. */
static bool starts_shape(char ty)
{
    return ty == T_FUNC || ty == T_UNION || ty == T_SEMI || ty == T_LPAREN || ty == T_WAITFOR;
}

static void view_ring(const struct pass *p, struct view *v)
{
    v->n = p->cnt;
    for (unsigned i = 0; i < p->cnt; i++)
        v->t[i] = &p->ring[(p->start + i) % WIN];
}

static void run_head(struct pass *p)
{
    if (p->head_done || p->reason)
        return;
    p->head_done = true;
    p->reason = breakout_rules(p);
}

/* Can SQL text inserted as-is (after "id = " or "ORDER BY ") start with
 * this token? "/post/24 union select 1" cannot: a leading '/', '*', '=',
 * ',', ':' ... is a syntax error before anything injected runs. */
static bool valid_start(const struct tok *t)
{
    if (t->type == T_OP)
        return (t->flags & F_UNARY) != 0;
    return t->type != T_OTHER && t->type != T_COMMA;
}

static void push(struct pass *p, const struct tok *t)
{
    if (!p->quote && !p->total && !valid_start(t))
        p->dead = true;
    if (p->dead) {
        p->total++;
        return;
    }
    if (p->cnt == WIN) {
        /* The oldest token now has its full window with final flags. */
        struct view v;
        run_head(p);
        if (p->reason)
            return;
        if (starts_shape(p->ring[p->start].type)) {
            view_ring(p, &v);
            p->reason = anywhere_rules(&v, false);
        }
        p->start = (p->start + 1) % WIN;
        p->cnt--;
    }
    p->ring[(p->start + p->cnt) % WIN] = *t;
    p->cnt++;
    if (p->head_n < WIN)
        p->head[p->head_n++] = *t;
    p->total++;
    p->last2[0] = p->last2[1];
    p->last2[1] = *t;
}

/* A comment folds into the token before it. A comment longer than a few
 * bytes ("55\" -- great picture") is more likely prose than truncation. */
static void mark_comment(struct pass *p, bool long_cmt)
{
    uint16_t f = (uint16_t)(F_CMT | (long_cmt ? F_LONGCMT : 0));
    if (!p->cnt)
        return;
    p->ring[(p->start + p->cnt - 1) % WIN].flags |= f;
    if (p->total <= WIN)
        p->head[p->total - 1].flags |= f;
    p->last2[1].flags |= f;
}

static void fp_add(struct pass *p, char c)
{
    if (p->fp_n < FP_MAX)
        p->fp[p->fp_n++] = c;
    p->fp[p->fp_n] = '\0';
}

static void finish(struct pass *p)
{
    if (p->dead)
        return;
    run_head(p);
    while (!p->reason && p->cnt) {
        struct view v;
        view_ring(p, &v);
        p->reason = anywhere_rules(&v, true);
        p->start = (p->start + 1) % WIN;
        p->cnt--;
    }
    /* x' || foo || '  x" | cmd | "  : the value closes the quote, adds an
     * expression by concatenation and reopens the quote for the
     * application's own closing quote. */
    if (!p->reason && p->quote && p->total >= 4 && p->head[0].type == T_STRING &&
        (p->head[0].flags & F_CLOSED) && (p->head[1].flags & F_CONCAT) &&
        p->last2[1].type == T_STRING && !(p->last2[1].flags & F_CLOSED) &&
        (p->last2[0].flags & F_CONCAT))
        p->reason = "concatenation between quote breakouts";
}

static const char *scan(const unsigned char *s, size_t n, char quote, struct pass *p)
{
    memset(p, 0, sizeof *p);
    p->quote = quote;
    size_t pos = 0;
    bool in_exec = false;
    struct tok t;
    if (quote) {
        pos = lex_string(s, n, 0, (unsigned char)quote, &t);
        for (size_t i = 0; i < pos; i++) {
            if (is_space(s[i])) {
                t.flags |= F_SPACED;
                break;
            }
        }
        push(p, &t);
        fp_add(p, T_STRING);
    }
    while (pos < n && !p->reason) {
        if (is_space(s[pos])) {
            pos++;
            continue;
        }
        size_t start = pos;
        size_t next = lex_token(s, n, pos, &t, &in_exec);
        pos = next > pos ? next : pos + 1; /* always progress */
        if (pos > n)
            pos = n;
        if (t.type == T_COMMENT) {
            if (t.flags & F_NESTED) {
                fp_add(p, T_COMMENT);
                p->reason = "nested comment";
                break;
            }
            mark_comment(p, pos - start > 8);
            if (!p->fp_n || p->fp[p->fp_n - 1] != T_COMMENT)
                fp_add(p, T_COMMENT);
            continue;
        }
        push(p, &t);
        fp_add(p, t.type);
    }
    if (!p->reason)
        finish(p);
    return p->reason;
}

bool detect_sqli(const char *s, size_t n, struct detect_result *res)
{
    static const char quotes[3] = {0, '\'', '"'};
    const unsigned char *u = (const unsigned char *)s;
    struct pass p;
    if (res) {
        res->fingerprint[0] = '\0';
        res->reason = NULL;
    }
    if (!s || !n)
        return false;
    for (int q = 0; q < 3; q++) {
        if (quotes[q] && !memchr(u, quotes[q], n))
            continue; /* no breakout possible from a quote that never occurs */
        if (scan(u, n, quotes[q], &p)) {
            if (res) {
                memcpy(res->fingerprint, p.fp, sizeof res->fingerprint);
                res->fingerprint[sizeof res->fingerprint - 1] = '\0';
                res->reason = p.reason;
            }
            return true;
        }
    }
    return false;
}
