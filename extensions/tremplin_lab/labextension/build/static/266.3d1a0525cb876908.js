"use strict";(self.rspackChunk_tremplin_exam_clock=self.rspackChunk_tremplin_exam_clock||[]).push([[266],{646(e,r,t){var n=t(601),o=t.n(n),a=t(314),i=(t.n(a))()(o());i.push([e.id,`/* @tremplin/exam-clock — no external fonts or images. */

#tremplin-exam-clock {
  display: flex;
  align-items: center;
  gap: 8px;
  margin: 0 8px;
  padding: 2px 10px;
  border-radius: 4px;
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
  font-variant-numeric: tabular-nums;
  white-space: nowrap;
  color: var(--jp-ui-font-color0);
  background: var(--jp-layout-color2);
  border: 1px solid var(--jp-border-color2);
  cursor: default;
}

#tremplin-exam-clock.tremplin-exam-warning {
  background: #fff3b0;
  border-color: #e0b400;
  color: #3d3000;
}

#tremplin-exam-clock.tremplin-exam-critical {
  background: #d32f2f;
  border-color: #9a0007;
  color: #fff;
  font-weight: bold;
}

#tremplin-exam-clock.tremplin-exam-over {
  background: var(--jp-layout-color3);
  font-weight: bold;
}

#tremplin-exam-clock .tremplin-exam-offline-mark {
  display: none;
  padding: 0 6px;
  border-radius: 3px;
  font-size: var(--jp-ui-font-size0);
  background: #555;
  color: #fff;
}

#tremplin-exam-clock.tremplin-exam-offline .tremplin-exam-offline-mark {
  display: inline;
}

.tremplin-exam-closed {
  overflow: hidden;
  background: #fdeded;
}

.tremplin-exam-closed .tremplin-exam-closed-body {
  box-sizing: border-box;
  padding: 8px 12px;
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
  line-height: 1.4;
  color: #5f2120;
  background: #fdeded;
  border-bottom: 2px solid #d32f2f;
}

.tremplin-exam-closed .tremplin-exam-closed-fr {
  font-weight: bold;
}

.tremplin-exam-closed .tremplin-exam-receipt {
  margin-top: 4px;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-ui-font-size0);
}
`,""]),t.d(r,{},{A:i})},314(e){e.exports=function(e){var r=[];return r.toString=function(){return this.map(function(r){var t="",n=void 0!==r[5];return r[4]&&(t+="@supports (".concat(r[4],") {")),r[2]&&(t+="@media ".concat(r[2]," {")),n&&(t+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),t+=e(r),n&&(t+="}"),r[2]&&(t+="}"),r[4]&&(t+="}"),t}).join("")},r.i=function(e,t,n,o,a){"string"==typeof e&&(e=[[null,e,void 0]]);var i={};if(n)for(var c=0;c<this.length;c++){var l=this[c][0];null!=l&&(i[l]=!0)}for(var s=0;s<e.length;s++){var p=[].concat(e[s]);n&&i[p[0]]||(void 0!==a&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=a),t&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=t),o&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=o):p[4]="".concat(o)),r.push(p))}},r}},601(e){e.exports=function(e){return e[1]}},665(e,r,t){t.r(r);var n=t(72),o=t.n(n),a=t(825),i=t.n(a),c=t(659),l=t.n(c),s=t(56),p=t.n(s),d=t(540),f=t.n(d),u=t(113),m=t.n(u),v=t(646),x={};x.styleTagTransform=m(),x.setAttributes=p(),x.insert=l().bind(null,"head"),x.domAPI=i(),x.insertStyleElement=f(),o()(v.A,x);let h=v.A&&v.A.locals?v.A.locals:void 0;t.d(r,{},{default:h})},72(e){var r=[];function t(e){for(var t=-1,n=0;n<r.length;n++)if(r[n].identifier===e){t=n;break}return t}function n(e,n){for(var o={},a=[],i=0;i<e.length;i++){var c=e[i],l=n.base?c[0]+n.base:c[0],s=o[l]||0,p="".concat(l," ").concat(s);o[l]=s+1;var d=t(p),f={css:c[1],media:c[2],sourceMap:c[3],supports:c[4],layer:c[5]};if(-1!==d)r[d].references++,r[d].updater(f);else{var u=function(e,r){var t=r.domAPI(r);return t.update(e),function(r){r?(r.css!==e.css||r.media!==e.media||r.sourceMap!==e.sourceMap||r.supports!==e.supports||r.layer!==e.layer)&&t.update(e=r):t.remove()}}(f,n);n.byIndex=i,r.splice(i,0,{identifier:p,updater:u,references:1})}a.push(p)}return a}e.exports=function(e,o){var a=n(e=e||[],o=o||{});return function(e){e=e||[];for(var i=0;i<a.length;i++){var c=t(a[i]);r[c].references--}for(var l=n(e,o),s=0;s<a.length;s++){var p=t(a[s]);0===r[p].references&&(r[p].updater(),r.splice(p,1))}a=l}}},659(e){var r={};e.exports=function(e,t){var n=function(e){if(void 0===r[e]){var t=document.querySelector(e);if(window.HTMLIFrameElement&&t instanceof window.HTMLIFrameElement)try{t=t.contentDocument.head}catch(e){t=null}r[e]=t}return r[e]}(e);if(!n)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");n.appendChild(t)}},540(e){e.exports=function(e){var r=document.createElement("style");return e.setAttributes(r,e.attributes),e.insert(r,e.options),r}},56(e,r,t){e.exports=function(e){var r=t.nc;r&&e.setAttribute("nonce",r)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=e.insertStyleElement(e);return{update:function(t){var n,o,a;n="",t.supports&&(n+="@supports (".concat(t.supports,") {")),t.media&&(n+="@media ".concat(t.media," {")),(o=void 0!==t.layer)&&(n+="@layer".concat(t.layer.length>0?" ".concat(t.layer):""," {")),n+=t.css,o&&(n+="}"),t.media&&(n+="}"),t.supports&&(n+="}"),(a=t.sourceMap)&&"u">typeof btoa&&(n+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),e.styleTagTransform(n,r,e.options)},remove:function(){var e;null===(e=r).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,r){if(r.styleSheet)r.styleSheet.cssText=e;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(e))}}}}]);