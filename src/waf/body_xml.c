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
 *  - errors go to a no-op structured handler, never to stderr.
 *
 * A document that is not well-formed is an error ("XML: Failed parsing
 * document."), but like v3 we keep the partial tree libxml2 built so XPath
 * still sees what was parsed. */
#include "waf/body.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

struct body_xml {
    xmlDocPtr doc;
};

static void xml_quiet(void *ctx, xmlErrorPtr e) {}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "XML parsing error: %s", msg);
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
