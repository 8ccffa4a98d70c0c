<?xml version="1.0" encoding="UTF-8"?>
<!--
  Renders Granary's OAI-PMH responses as readable pages in a browser. The
  endpoint names this stylesheet in an xml-stylesheet processing instruction;
  harvesters ignore the instruction and get the same XML as ever.

  Every verb and every error is rendered; links lead to the next page of a
  list (resumptionToken), to each record (GetRecord, in every format, and its
  page on the site), to each set's records, and to each format's records.
  Links are relative to the endpoint's own URL, so the pages work wherever
  Granary is mounted.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:oai="http://www.openarchives.org/OAI/2.0/"
    xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:mods="http://www.loc.gov/mods/v3"
    xmlns:oaiid="http://www.openarchives.org/OAI/2.0/oai-identifier"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    exclude-result-prefixes="oai oai_dc dc mods oaiid xsi">

  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:variable name="verb" select="/oai:OAI-PMH/oai:request/@verb"/>
  <xsl:variable name="requestPrefix" select="/oai:OAI-PMH/oai:request/@metadataPrefix"/>

  <!-- replace every `from` in `text` by `to` -->
  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- percent-encode the characters of an oai-identifier that matter in a URL -->
  <xsl:template name="encode">
    <xsl:param name="text"/>
    <xsl:variable name="a"><xsl:call-template name="replace"><xsl:with-param name="text" select="$text"/><xsl:with-param name="from" select="'%'"/><xsl:with-param name="to" select="'%25'"/></xsl:call-template></xsl:variable>
    <xsl:variable name="b"><xsl:call-template name="replace"><xsl:with-param name="text" select="$a"/><xsl:with-param name="from" select="'&amp;'"/><xsl:with-param name="to" select="'%26'"/></xsl:call-template></xsl:variable>
    <xsl:variable name="c"><xsl:call-template name="replace"><xsl:with-param name="text" select="$b"/><xsl:with-param name="from" select="'+'"/><xsl:with-param name="to" select="'%2B'"/></xsl:call-template></xsl:variable>
    <xsl:variable name="d"><xsl:call-template name="replace"><xsl:with-param name="text" select="$c"/><xsl:with-param name="from" select="'?'"/><xsl:with-param name="to" select="'%3F'"/></xsl:call-template></xsl:variable>
    <xsl:call-template name="replace"><xsl:with-param name="text" select="$d"/><xsl:with-param name="from" select="'='"/><xsl:with-param name="to" select="'%3D'"/></xsl:call-template>
  </xsl:template>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>OAI-PMH <xsl:value-of select="$verb"/><xsl:if test="not($verb)">error</xsl:if> · Granary</title>
        <link rel="stylesheet" href="static/granary.css"/>
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to main content</a>
        <header class="site-header">
          <div class="wrap header-row">
            <a class="site-name" href="./">Granary</a>
            <nav aria-label="OAI-PMH verbs">
              <ul class="nav-list">
                <li><a href="?verb=Identify">Identify</a></li>
                <li><a href="?verb=ListMetadataFormats">Formats</a></li>
                <li><a href="?verb=ListSets">Sets</a></li>
                <li><a href="?verb=ListIdentifiers&amp;metadataPrefix=oai_dc">Identifiers</a></li>
                <li><a href="?verb=ListRecords&amp;metadataPrefix=oai_dc">Records</a></li>
              </ul>
            </nav>
          </div>
        </header>
        <main id="main" class="wrap">
          <h1>
            <xsl:choose>
              <xsl:when test="$verb">OAI-PMH <xsl:value-of select="$verb"/></xsl:when>
              <xsl:otherwise>OAI-PMH error</xsl:otherwise>
            </xsl:choose>
          </h1>
          <p class="lead">An OAI-PMH 2.0 response, shown as a page. Harvesters receive the same XML; view the page source to see it.</p>
          <dl class="oai-fields">
            <dt>Response date</dt><dd><xsl:value-of select="/oai:OAI-PMH/oai:responseDate"/></dd>
            <dt>Request</dt>
            <dd>
              <code><xsl:value-of select="/oai:OAI-PMH/oai:request"/></code>
              <xsl:for-each select="/oai:OAI-PMH/oai:request/@*">
                <xsl:text> </xsl:text><code><xsl:value-of select="name()"/>=<xsl:value-of select="."/></code>
              </xsl:for-each>
            </dd>
          </dl>
          <xsl:apply-templates select="/oai:OAI-PMH/oai:error"/>
          <xsl:apply-templates select="/oai:OAI-PMH/oai:Identify | /oai:OAI-PMH/oai:ListMetadataFormats | /oai:OAI-PMH/oai:ListSets | /oai:OAI-PMH/oai:ListIdentifiers | /oai:OAI-PMH/oai:ListRecords | /oai:OAI-PMH/oai:GetRecord"/>
        </main>
      </body>
    </html>
  </xsl:template>

  <!-- errors -->
  <xsl:template match="oai:error">
    <div class="oai-error" role="alert">
      <h2>Error: <code><xsl:value-of select="@code"/></code></h2>
      <p><xsl:value-of select="."/></p>
      <xsl:if test="@code = 'noRecordsMatch'"><p>No records match this request; try another set or date range.</p></xsl:if>
      <xsl:if test="@code = 'badResumptionToken'"><p>The resumption token has expired or is not valid: start the list again.</p></xsl:if>
    </div>
  </xsl:template>

  <!-- Identify -->
  <xsl:template match="oai:Identify">
    <h2><xsl:value-of select="oai:repositoryName"/></h2>
    <dl class="oai-fields">
      <dt>Base URL</dt><dd><code><xsl:value-of select="oai:baseURL"/></code></dd>
      <dt>Protocol version</dt><dd><xsl:value-of select="oai:protocolVersion"/></dd>
      <xsl:for-each select="oai:adminEmail"><dt>Administrator</dt><dd><a href="mailto:{.}"><xsl:value-of select="."/></a></dd></xsl:for-each>
      <dt>Earliest datestamp</dt><dd><xsl:value-of select="oai:earliestDatestamp"/></dd>
      <dt>Deleted records</dt><dd><xsl:value-of select="oai:deletedRecord"/></dd>
      <dt>Granularity</dt><dd><xsl:value-of select="oai:granularity"/></dd>
      <xsl:for-each select="oai:compression"><dt>Compression</dt><dd><xsl:value-of select="."/></dd></xsl:for-each>
      <xsl:for-each select="oai:description/oaiid:oai-identifier">
        <dt>Identifier scheme</dt><dd><xsl:value-of select="oaiid:scheme"/>, repository <code><xsl:value-of select="oaiid:repositoryIdentifier"/></code>, delimiter <code><xsl:value-of select="oaiid:delimiter"/></code></dd>
        <dt>Sample identifier</dt>
        <dd>
          <xsl:variable name="id"><xsl:call-template name="encode"><xsl:with-param name="text" select="oaiid:sampleIdentifier"/></xsl:call-template></xsl:variable>
          <a href="?verb=GetRecord&amp;metadataPrefix=oai_dc&amp;identifier={$id}"><xsl:value-of select="oaiid:sampleIdentifier"/></a>
        </dd>
      </xsl:for-each>
    </dl>
    <p>Continue with the <a href="?verb=ListMetadataFormats">metadata formats</a>, the <a href="?verb=ListSets">sets</a> or the <a href="?verb=ListRecords&amp;metadataPrefix=oai_dc">records</a>.</p>
  </xsl:template>

  <!-- ListMetadataFormats -->
  <xsl:template match="oai:ListMetadataFormats">
    <xsl:variable name="identifier" select="/oai:OAI-PMH/oai:request/@identifier"/>
    <h2>Metadata formats<xsl:if test="$identifier"> of <code><xsl:value-of select="$identifier"/></code></xsl:if></h2>
    <table>
      <thead><tr><th scope="col">metadataPrefix</th><th scope="col">Schema</th><th scope="col">Namespace</th><th scope="col">Records</th></tr></thead>
      <tbody>
        <xsl:for-each select="oai:metadataFormat">
          <tr>
            <td><code><xsl:value-of select="oai:metadataPrefix"/></code></td>
            <td><a href="{oai:schema}"><xsl:value-of select="oai:schema"/></a></td>
            <td><code><xsl:value-of select="oai:metadataNamespace"/></code></td>
            <td>
              <xsl:choose>
                <xsl:when test="$identifier">
                  <xsl:variable name="id"><xsl:call-template name="encode"><xsl:with-param name="text" select="$identifier"/></xsl:call-template></xsl:variable>
                  <a href="?verb=GetRecord&amp;metadataPrefix={oai:metadataPrefix}&amp;identifier={$id}">GetRecord</a>
                </xsl:when>
                <xsl:otherwise>
                  <a href="?verb=ListRecords&amp;metadataPrefix={oai:metadataPrefix}">ListRecords</a>
                  <xsl:text> · </xsl:text>
                  <a href="?verb=ListIdentifiers&amp;metadataPrefix={oai:metadataPrefix}">ListIdentifiers</a>
                </xsl:otherwise>
              </xsl:choose>
            </td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
  </xsl:template>

  <!-- ListSets -->
  <xsl:template match="oai:ListSets">
    <h2>Sets</h2>
    <table>
      <thead><tr><th scope="col">setSpec</th><th scope="col">Name and description</th><th scope="col">Records</th></tr></thead>
      <tbody>
        <xsl:for-each select="oai:set">
          <tr>
            <td><code><xsl:value-of select="oai:setSpec"/></code></td>
            <td><strong><xsl:value-of select="oai:setName"/></strong>
              <xsl:for-each select="oai:setDescription//dc:description"><br/><xsl:value-of select="."/></xsl:for-each></td>
            <td><a href="?verb=ListRecords&amp;metadataPrefix=oai_dc&amp;set={oai:setSpec}">ListRecords</a>
              <xsl:text> · </xsl:text>
              <a href="?verb=ListIdentifiers&amp;metadataPrefix=oai_dc&amp;set={oai:setSpec}">ListIdentifiers</a></td>
          </tr>
        </xsl:for-each>
      </tbody>
    </table>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <!-- ListIdentifiers -->
  <xsl:template match="oai:ListIdentifiers">
    <h2>Identifiers</h2>
    <xsl:apply-templates select="oai:resumptionToken" mode="summary"/>
    <ol class="record-list">
      <xsl:for-each select="oai:header">
        <li class="record-item">
          <xsl:apply-templates select="." mode="header">
            <xsl:with-param name="prefix">
              <xsl:choose><xsl:when test="$requestPrefix"><xsl:value-of select="$requestPrefix"/></xsl:when><xsl:otherwise>oai_dc</xsl:otherwise></xsl:choose>
            </xsl:with-param>
          </xsl:apply-templates>
        </li>
      </xsl:for-each>
    </ol>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <!-- ListRecords and GetRecord -->
  <xsl:template match="oai:ListRecords">
    <h2>Records</h2>
    <xsl:apply-templates select="oai:resumptionToken" mode="summary"/>
    <xsl:apply-templates select="oai:record"/>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <xsl:template match="oai:GetRecord">
    <xsl:apply-templates select="oai:record"/>
  </xsl:template>

  <xsl:template match="oai:record">
    <xsl:variable name="prefix">
      <xsl:choose>
        <xsl:when test="oai:metadata/mods:mods">mods</xsl:when>
        <xsl:when test="oai:metadata/oai_dc:dc">oai_dc</xsl:when>
        <xsl:when test="$requestPrefix"><xsl:value-of select="$requestPrefix"/></xsl:when>
        <xsl:otherwise>oai_dc</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <article class="oai-record">
      <h3>
        <xsl:choose>
          <xsl:when test="oai:metadata/oai_dc:dc/dc:title"><xsl:value-of select="oai:metadata/oai_dc:dc/dc:title[1]"/></xsl:when>
          <xsl:when test="oai:metadata/mods:mods/mods:titleInfo/mods:title"><xsl:value-of select="oai:metadata/mods:mods/mods:titleInfo[mods:title][1]/mods:title[1]"/></xsl:when>
          <xsl:when test="oai:header/@status = 'deleted'">Deleted record</xsl:when>
          <xsl:otherwise><xsl:value-of select="oai:header/oai:identifier"/></xsl:otherwise>
        </xsl:choose>
      </h3>
      <xsl:apply-templates select="oai:header" mode="header">
        <xsl:with-param name="prefix" select="$prefix"/>
      </xsl:apply-templates>
      <xsl:if test="oai:metadata">
        <details>
          <summary>Metadata (<xsl:value-of select="$prefix"/>)</summary>
          <div class="oai-xml"><ul><xsl:apply-templates select="oai:metadata/*" mode="tree"/></ul></div>
        </details>
      </xsl:if>
    </article>
  </xsl:template>

  <xsl:template match="oai:header" mode="header">
    <xsl:param name="prefix"/>
    <xsl:variable name="id"><xsl:call-template name="encode"><xsl:with-param name="text" select="oai:identifier"/></xsl:call-template></xsl:variable>
    <xsl:variable name="local" select="substring-after(substring-after(oai:identifier, ':'), ':')"/>
    <xsl:variable name="localEnc"><xsl:call-template name="encode"><xsl:with-param name="text" select="$local"/></xsl:call-template></xsl:variable>
    <dl class="oai-fields">
      <dt>Identifier</dt>
      <dd>
        <a class="record-link" href="?verb=GetRecord&amp;metadataPrefix={$prefix}&amp;identifier={$id}"><xsl:value-of select="oai:identifier"/></a>
        <xsl:if test="@status = 'deleted'"> <span class="deleted">deleted</span></xsl:if>
      </dd>
      <dt>Datestamp</dt><dd><xsl:value-of select="oai:datestamp"/></dd>
      <xsl:if test="oai:setSpec">
        <dt>Sets</dt>
        <dd>
          <xsl:for-each select="oai:setSpec">
            <a href="?verb=ListRecords&amp;metadataPrefix={$prefix}&amp;set={.}"><xsl:value-of select="."/></a>
            <xsl:if test="position() != last()"><xsl:text>, </xsl:text></xsl:if>
          </xsl:for-each>
        </dd>
      </xsl:if>
      <dt>Formats</dt>
      <dd>
        <a href="?verb=ListMetadataFormats&amp;identifier={$id}">ListMetadataFormats</a>
        <xsl:if test="not(@status = 'deleted') and $local">
          <xsl:text> · </xsl:text><a href="records/{$localEnc}">Record page</a>
        </xsl:if>
      </dd>
    </dl>
  </xsl:template>

  <!-- resumption tokens: where the list stands, and the next page -->
  <xsl:template match="oai:resumptionToken" mode="summary">
    <xsl:if test="@completeListSize">
      <p>
        <xsl:choose>
          <xsl:when test="@cursor"><xsl:value-of select="@cursor + 1"/>–<xsl:value-of select="@cursor + count(../oai:record | ../oai:header | ../oai:set)"/></xsl:when>
          <xsl:otherwise><xsl:value-of select="count(../oai:record | ../oai:header | ../oai:set)"/> items</xsl:otherwise>
        </xsl:choose>
        of <xsl:value-of select="@completeListSize"/>.
      </p>
    </xsl:if>
  </xsl:template>

  <xsl:template match="oai:resumptionToken">
    <nav class="pager" aria-label="List pages">
      <xsl:choose>
        <xsl:when test="normalize-space(.)">
          <a rel="next" class="next-page" href="?verb={$verb}&amp;resumptionToken={normalize-space(.)}">Next page</a>
          <xsl:if test="@expirationDate"><span class="qualifier">(link valid until <xsl:value-of select="@expirationDate"/>)</span></xsl:if>
        </xsl:when>
        <xsl:otherwise><span>This is the last page of the list.</span></xsl:otherwise>
      </xsl:choose>
    </nav>
  </xsl:template>

  <!-- any metadata, as a tree of element names and values -->
  <xsl:template match="*" mode="tree">
    <li>
      <span class="el"><xsl:value-of select="local-name()"/></span>
      <xsl:for-each select="@*[local-name() != 'schemaLocation']">
        <xsl:text> </xsl:text><span class="qualifier">@<xsl:value-of select="local-name()"/>="<xsl:value-of select="."/>"</span>
      </xsl:for-each>
      <xsl:if test="normalize-space(text())">
        <xsl:text>: </xsl:text>
        <xsl:for-each select="text()[normalize-space()]"><xsl:value-of select="normalize-space(.)"/><xsl:text> </xsl:text></xsl:for-each>
      </xsl:if>
      <xsl:if test="*"><ul><xsl:apply-templates select="*" mode="tree"/></ul></xsl:if>
    </li>
  </xsl:template>
</xsl:stylesheet>
