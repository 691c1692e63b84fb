/* XML request bodies via libxml2, parsed the way ModSecurity v3.0.9 does it
 * (push parser, whole body then terminate, "body.xml" as the document URL),
 * but locked down per parser context instead of through libxml2's global
 * hooks:
 *
 *  - XML_PARSE_NONET, and neither XML_PARSE_NOENT nor XML_PARSE_DTDLOAD: no
 *    external DTD or entity is ever fetched (file or network), entity
 *    references stay references in the tree;
 *  - no XML_PARSE_HUGE: libxml2's default limits apply (nesting depth 256,
 *    text node size, entity amplification checks that reject
 *    billion-laughs documents);
 *  - on top of that, a document whose text would expand through entity
 *    references to more than 8x its size + 1 MB is refused (libxml2 lets the
 *    "quadratic blowup" through, see expansion_ok());
 *  - errors go to a no-op structured handler, never to stderr.
 *
 * A document that is not well-formed is an error ("XML: Failed parsing
 * document."), but like v3 we keep the partial tree libxml2 built so XPath
 * still sees what was parsed. */
#include "waf/body.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

/* Text a document may expand to through entities: 8 x its size plus this. */
#define XML_EXPAND_SLACK (1024 * 1024)

struct body_xml {
    xmlDocPtr doc;
};

static void xml_quiet(void *ctx, xmlErrorPtr e) {}

/* Entity references stay in the tree, and xmlNodeGetContent() expands them
 * each time it meets one: a 25 KB document with one 10 KB entity used 5,000
 * times reads as 50 MB of text, and libxml2 accepts it. This walks the tree
 * the way xmlNodeGetContent() reads it and spends one unit of budget per
 * node and per byte of text, so a document whose text expands past the
 * budget is refused before anything reads it. v3 has no such limit; only
 * amplification attacks tell the difference. */
static bool expansion_ok(xmlNodePtr n, size_t *budget, unsigned depth)
{
    if (depth > 1024)
        return false;
    for (; n; n = n->next) {
        if (*budget == 0)
            return false;
        (*budget)--;
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
        case XML_COMMENT_NODE:
        case XML_PI_NODE: {
            size_t l = n->content ? strlen((const char *)n->content) : 0;
            if (l >= *budget)
                return false;
            *budget -= l;
            break;
        }
        case XML_ENTITY_REF_NODE: {
            xmlEntityPtr e = xmlGetDocEntity(n->doc, n->name);
            if (e && !expansion_ok(e->children, budget, depth + 1))
                return false;
            break;
        }
        case XML_ELEMENT_NODE:
            for (xmlAttrPtr a = n->properties; a; a = a->next)
                if (!expansion_ok(a->children, budget, depth + 1))
                    return false;
            if (!expansion_ok(n->children, budget, depth + 1))
                return false;
            break;
        default:
            if (!expansion_ok(n->children, budget, depth + 1))
                return false;
            break;
        }
    }
    return true;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

int body_xml_parse(const char *p, size_t n, struct body_xml **out, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt = NULL;
    struct body_xml *x = NULL;
    int rc = -1;

    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return -1;
    *out = NULL;
    if (n > INT_MAX) {
        set_err(err, errlen, "XML: Failed parsing document.");
        goto out;
    }

    x = calloc(1, sizeof *x);
    if (!x) {
        set_err(err, errlen, "XML: Failed to create parsing context.");
        goto out;
    }
    /* The first chunk is only buffered (for encoding detection); parsing
     * starts with the terminating call below, after the options are set. */
    ctxt = xmlCreatePushParserCtxt(NULL, NULL, p, (int)n, "body.xml");
    if (!ctxt) {
        set_err(err, errlen, "XML: Failed to create parsing context.");
        goto out;
    }
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (ctxt->sax) {
        ctxt->sax->serror = xml_quiet;
        ctxt->sax->warning = NULL;
        ctxt->sax->error = NULL;
    }
    xmlParseChunk(ctxt, NULL, 0, 1);

    x->doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    size_t budget = n > ((size_t)-1 - XML_EXPAND_SLACK) / 8 ? (size_t)-1 : 8 * n + XML_EXPAND_SLACK;
    if (x->doc && !expansion_ok(x->doc->children, &budget, 0)) {
        set_err(err, errlen, "XML: Failed parsing document.");
        goto out;
    }
    if (ctxt->wellFormed != 1) {
        set_err(err, errlen, "XML: Failed parsing document.");
        if (!x->doc)
            goto out;
        *out = x; /* partial tree, as v3 keeps it */
        x = NULL;
        goto out;
    }
    *out = x;
    x = NULL;
    rc = 0;

out:
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    body_xml_free(x);
    return rc;
}

int body_xml_xpath(struct body_xml *doc, const char *expr,
                   int (*cb)(void *ctx, const char *val, size_t vlen), void *ctx)
{
    xmlXPathContextPtr xc = NULL;
    xmlXPathObjectPtr obj = NULL;
    int rc = 0;

    if (!doc || !doc->doc)
        return 0;
    xc = xmlXPathNewContext(doc->doc);
    if (!xc)
        return -1;
    xc->error = xml_quiet; /* a bad expression is our return value, not stderr */
    obj = xmlXPathEvalExpression((const xmlChar *)expr, xc);
    if (!obj) {
        rc = -1;
        goto out;
    }
    if (!obj->nodesetval)
        goto out;
    for (int i = 0; i < obj->nodesetval->nodeNr && rc == 0; i++) {
        xmlChar *content = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);
        if (!content)
            continue;
        if (cb)
            rc = cb(ctx, (const char *)content, strlen((const char *)content));
        xmlFree(content);
    }

out:
    if (obj)
        xmlXPathFreeObject(obj);
    if (xc)
        xmlXPathFreeContext(xc);
    return rc;
}

void body_xml_free(struct body_xml *doc)
{
    if (!doc)
        return;
    if (doc->doc)
        xmlFreeDoc(doc->doc);
    free(doc);
}
