"use strict";(self.rspackChunk_tremplin_exam_clock=self.rspackChunk_tremplin_exam_clock||[]).push([[266],{646(e,n,r){var t=r(601),o=r.n(t),a=r(314),i=(r.n(a))()(o());i.push([e.id,`/* @tremplin/exam-clock — no external fonts or images. */

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

/* Handed in: information, not an error. */
.tremplin-exam-closed[data-kind='done'],
.tremplin-exam-closed[data-kind='done'] .tremplin-exam-closed-body {
  background: #e8f1fb;
  color: #0b3a6e;
  border-bottom-color: #1a63c6;
}

/* The hand-in button beside the countdown. */
#tremplin-exam-clock .tremplin-exam-handin {
  margin-left: 4px;
  padding: 1px 10px;
  border-radius: 4px;
  border: 1px solid #1a56a7;
  background: #1a63c6;
  color: #fff;
  font: inherit;
  cursor: pointer;
}

#tremplin-exam-clock .tremplin-exam-handin:disabled {
  opacity: 0.6;
  cursor: progress;
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

/* What became of the last save (beside the countdown). */
#tremplin-exam-clock .tremplin-exam-autosave:empty {
  display: none;
}

#tremplin-exam-clock .tremplin-exam-autosave-kept {
  font-size: var(--jp-ui-font-size0);
  opacity: 0.8;
}

#tremplin-exam-clock .tremplin-exam-autosave-pending {
  font-size: var(--jp-ui-font-size0);
  font-style: italic;
}

#tremplin-exam-clock .tremplin-exam-autosave-failed {
  display: inline-flex;
  flex-direction: column;
  padding: 0 6px;
  border-radius: 3px;
  font-size: var(--jp-ui-font-size0);
  line-height: 1.15;
  font-weight: bold;
  background: #fff;
  color: #b71c1c;
  border: 2px solid #d32f2f;
}
`,""]),r.d(n,{},{A:i})},314(e){e.exports=function(e){var n=[];return n.toString=function(){return this.map(function(n){var r="",t=void 0!==n[5];return n[4]&&(r+="@supports (".concat(n[4],") {")),n[2]&&(r+="@media ".concat(n[2]," {")),t&&(r+="@layer".concat(n[5].length>0?" ".concat(n[5]):""," {")),r+=e(n),t&&(r+="}"),n[2]&&(r+="}"),n[4]&&(r+="}"),r}).join("")},n.i=function(e,r,t,o,a){"string"==typeof e&&(e=[[null,e,void 0]]);var i={};if(t)for(var c=0;c<this.length;c++){var l=this[c][0];null!=l&&(i[l]=!0)}for(var p=0;p<e.length;p++){var s=[].concat(e[p]);t&&i[s[0]]||(void 0!==a&&(void 0===s[5]||(s[1]="@layer".concat(s[5].length>0?" ".concat(s[5]):""," {").concat(s[1],"}")),s[5]=a),r&&(s[2]&&(s[1]="@media ".concat(s[2]," {").concat(s[1],"}")),s[2]=r),o&&(s[4]?(s[1]="@supports (".concat(s[4],") {").concat(s[1],"}"),s[4]=o):s[4]="".concat(o)),n.push(s))}},n}},601(e){e.exports=function(e){return e[1]}},665(e,n,r){r.r(n);var t=r(72),o=r.n(t),a=r(825),i=r.n(a),c=r(659),l=r.n(c),p=r(56),s=r.n(p),d=r(540),f=r.n(d),m=r(113),u=r.n(m),x=r(646),v={};v.styleTagTransform=u(),v.setAttributes=s(),v.insert=l().bind(null,"head"),v.domAPI=i(),v.insertStyleElement=f(),o()(x.A,v);let b=x.A&&x.A.locals?x.A.locals:void 0;r.d(n,{},{default:b})},72(e){var n=[];function r(e){for(var r=-1,t=0;t<n.length;t++)if(n[t].identifier===e){r=t;break}return r}function t(e,t){for(var o={},a=[],i=0;i<e.length;i++){var c=e[i],l=t.base?c[0]+t.base:c[0],p=o[l]||0,s="".concat(l," ").concat(p);o[l]=p+1;var d=r(s),f={css:c[1],media:c[2],sourceMap:c[3],supports:c[4],layer:c[5]};if(-1!==d)n[d].references++,n[d].updater(f);else{var m=function(e,n){var r=n.domAPI(n);return r.update(e),function(n){n?(n.css!==e.css||n.media!==e.media||n.sourceMap!==e.sourceMap||n.supports!==e.supports||n.layer!==e.layer)&&r.update(e=n):r.remove()}}(f,t);t.byIndex=i,n.splice(i,0,{identifier:s,updater:m,references:1})}a.push(s)}return a}e.exports=function(e,o){var a=t(e=e||[],o=o||{});return function(e){e=e||[];for(var i=0;i<a.length;i++){var c=r(a[i]);n[c].references--}for(var l=t(e,o),p=0;p<a.length;p++){var s=r(a[p]);0===n[s].references&&(n[s].updater(),n.splice(s,1))}a=l}}},659(e){var n={};e.exports=function(e,r){var t=function(e){if(void 0===n[e]){var r=document.querySelector(e);if(window.HTMLIFrameElement&&r instanceof window.HTMLIFrameElement)try{r=r.contentDocument.head}catch(e){r=null}n[e]=r}return n[e]}(e);if(!t)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");t.appendChild(r)}},540(e){e.exports=function(e){var n=document.createElement("style");return e.setAttributes(n,e.attributes),e.insert(n,e.options),n}},56(e,n,r){e.exports=function(e){var n=r.nc;n&&e.setAttribute("nonce",n)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var n=e.insertStyleElement(e);return{update:function(r){var t,o,a;t="",r.supports&&(t+="@supports (".concat(r.supports,") {")),r.media&&(t+="@media ".concat(r.media," {")),(o=void 0!==r.layer)&&(t+="@layer".concat(r.layer.length>0?" ".concat(r.layer):""," {")),t+=r.css,o&&(t+="}"),r.media&&(t+="}"),r.supports&&(t+="}"),(a=r.sourceMap)&&"u">typeof btoa&&(t+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),e.styleTagTransform(t,n,e.options)},remove:function(){var e;null===(e=n).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,n){if(n.styleSheet)n.styleSheet.cssText=e;else{for(;n.firstChild;)n.removeChild(n.firstChild);n.appendChild(document.createTextNode(e))}}}}]);